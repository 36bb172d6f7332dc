"""Pure rules for orders and parcels: no database access, table-tested at every edge."""

from collections.abc import Iterable

from .models import Order, Parcel

S = Parcel.Status

# Which logistics status may follow which. A carrier repeats a status as the parcel moves between
# hubs, so every non-final status may follow itself. Final statuses accept nothing, except that a
# returned parcel can still be found damaged when the merchant opens it.
PARCEL_TRANSITIONS: dict[str, frozenset[str]] = {
    S.COLLECTED: frozenset(S.values) - {S.RETURNED},
    S.IN_TRANSIT: frozenset(S.values) - {S.COLLECTED, S.RETURNED},
    S.OUT_FOR_DELIVERY: frozenset(S.values) - {S.COLLECTED, S.RETURNED},
    S.EXCEPTION: frozenset(S.values) - {S.COLLECTED},
    S.REFUSED: frozenset({S.REFUSED, S.RETURNING, S.RETURNED, S.EXCEPTION, S.LOST, S.DAMAGED}),
    S.INTERCEPTED: frozenset({S.INTERCEPTED, S.RETURNING, S.RETURNED, S.EXCEPTION, S.LOST, S.DAMAGED}),
    S.RETURNING: frozenset({S.RETURNING, S.RETURNED, S.EXCEPTION, S.LOST, S.DAMAGED}),
    S.RETURNED: frozenset({S.DAMAGED}),
    S.SIGNED: frozenset(),
    S.LOST: frozenset(),
    S.DAMAGED: frozenset(),
}


def parcel_transition_allowed(current: str, new: str) -> bool:
    return new in PARCEL_TRANSITIONS[current]


def order_status_after_shipping(*, current: str, all_line_ids: Iterable[int], shipped_line_ids: Iterable[int]) -> str:
    """The order's status once the given lines are in parcels: shipped when every line is."""
    if current not in Order.SHIPPABLE_STATUSES:
        return current
    return Order.Status.SHIPPED if set(all_line_ids) <= set(shipped_line_ids) else Order.Status.PARTIALLY_SHIPPED
