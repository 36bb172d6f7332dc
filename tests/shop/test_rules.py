"""Pure order and parcel rules, table-tested at every edge."""

import pytest

from shop.models import Order, Parcel
from shop.rules import PARCEL_TRANSITIONS, order_status_after_shipping, parcel_transition_allowed

S = Parcel.Status
O = Order.Status  # noqa: E741

FINAL_STATUSES = [S.SIGNED, S.LOST, S.DAMAGED]
NON_FINAL_REPEATABLE = [
    S.COLLECTED,
    S.IN_TRANSIT,
    S.OUT_FOR_DELIVERY,
    S.EXCEPTION,
    S.REFUSED,
    S.INTERCEPTED,
    S.RETURNING,
]


def test_every_parcel_status_has_a_row_in_the_transition_table():
    assert set(PARCEL_TRANSITIONS) == set(S.values)


@pytest.mark.parametrize(
    "current, new, allowed",
    [
        # On its way to the buyer.
        (S.COLLECTED, S.IN_TRANSIT, True),
        (S.COLLECTED, S.OUT_FOR_DELIVERY, True),
        (S.COLLECTED, S.SIGNED, True),
        (S.COLLECTED, S.REFUSED, True),
        (S.COLLECTED, S.INTERCEPTED, True),
        (S.COLLECTED, S.RETURNING, True),
        (S.COLLECTED, S.EXCEPTION, True),
        (S.COLLECTED, S.LOST, True),
        (S.COLLECTED, S.DAMAGED, True),
        (S.COLLECTED, S.RETURNED, False),
        (S.IN_TRANSIT, S.OUT_FOR_DELIVERY, True),
        (S.IN_TRANSIT, S.SIGNED, True),
        (S.IN_TRANSIT, S.INTERCEPTED, True),
        (S.IN_TRANSIT, S.COLLECTED, False),
        (S.IN_TRANSIT, S.RETURNED, False),
        (S.OUT_FOR_DELIVERY, S.SIGNED, True),
        (S.OUT_FOR_DELIVERY, S.REFUSED, True),
        (S.OUT_FOR_DELIVERY, S.IN_TRANSIT, True),
        (S.OUT_FOR_DELIVERY, S.COLLECTED, False),
        (S.OUT_FOR_DELIVERY, S.RETURNED, False),
        # A logistics exception may resolve any way but back to collected.
        (S.EXCEPTION, S.IN_TRANSIT, True),
        (S.EXCEPTION, S.SIGNED, True),
        (S.EXCEPTION, S.RETURNED, True),
        (S.EXCEPTION, S.LOST, True),
        (S.EXCEPTION, S.COLLECTED, False),
        # On its way back to the sender.
        (S.REFUSED, S.RETURNING, True),
        (S.REFUSED, S.RETURNED, True),
        (S.REFUSED, S.EXCEPTION, True),
        (S.REFUSED, S.LOST, True),
        (S.REFUSED, S.DAMAGED, True),
        (S.REFUSED, S.SIGNED, False),
        (S.REFUSED, S.IN_TRANSIT, False),
        (S.REFUSED, S.OUT_FOR_DELIVERY, False),
        (S.REFUSED, S.INTERCEPTED, False),
        (S.INTERCEPTED, S.RETURNING, True),
        (S.INTERCEPTED, S.RETURNED, True),
        (S.INTERCEPTED, S.EXCEPTION, True),
        (S.INTERCEPTED, S.SIGNED, False),
        (S.INTERCEPTED, S.REFUSED, False),
        (S.INTERCEPTED, S.OUT_FOR_DELIVERY, False),
        (S.RETURNING, S.RETURNED, True),
        (S.RETURNING, S.LOST, True),
        (S.RETURNING, S.DAMAGED, True),
        (S.RETURNING, S.EXCEPTION, True),
        (S.RETURNING, S.IN_TRANSIT, False),
        (S.RETURNING, S.SIGNED, False),
        (S.RETURNING, S.REFUSED, False),
        (S.RETURNING, S.INTERCEPTED, False),
        # Back with the merchant: only opening it and finding it damaged.
        (S.RETURNED, S.DAMAGED, True),
        (S.RETURNED, S.RETURNED, False),
        (S.RETURNED, S.RETURNING, False),
        (S.RETURNED, S.LOST, False),
        (S.RETURNED, S.SIGNED, False),
    ],
)
def test_parcel_transition_allowed_follows_the_logistics_table(current, new, allowed):
    assert parcel_transition_allowed(current, new) is allowed


@pytest.mark.parametrize("status", NON_FINAL_REPEATABLE)
def test_a_non_final_parcel_status_may_repeat_as_the_parcel_moves_between_hubs(status):
    assert parcel_transition_allowed(status, status) is True


@pytest.mark.parametrize("current", FINAL_STATUSES)
@pytest.mark.parametrize("new", S.values)
def test_a_signed_lost_or_damaged_parcel_accepts_no_further_status(current, new):
    assert parcel_transition_allowed(current, new) is False


@pytest.mark.parametrize("current", S.values)
def test_only_a_collected_parcel_can_be_collected_again(current):
    # A parcel is collected once, when it ships; only a repeated scan at the first hub is "collected" again.
    assert parcel_transition_allowed(current, S.COLLECTED) is (current == S.COLLECTED)


@pytest.mark.parametrize(
    "current, all_line_ids, shipped_line_ids, expected",
    [
        (O.PREPARING, [1, 2], [1], O.PARTIALLY_SHIPPED),
        (O.PREPARING, [1, 2], [1, 2], O.SHIPPED),
        (O.PREPARING, [1], [1], O.SHIPPED),
        (O.PREPARING, [1, 2, 3], [3, 1], O.PARTIALLY_SHIPPED),
        (O.PARTIALLY_SHIPPED, [1, 2], [2], O.PARTIALLY_SHIPPED),
        (O.PARTIALLY_SHIPPED, [1, 2], [2, 1], O.SHIPPED),
        (O.SHIPPED, [1, 2], [1, 2], O.SHIPPED),
        # A line in two parcels counts once.
        (O.PREPARING, [1, 2], [1, 1], O.PARTIALLY_SHIPPED),
        (O.PARTIALLY_SHIPPED, [1, 2], [1, 1, 2], O.SHIPPED),
        # Statuses a parcel cannot leave from are kept as they are.
        (O.PENDING_PAYMENT, [1, 2], [1, 2], O.PENDING_PAYMENT),
        (O.CLOSED, [1, 2], [1, 2], O.CLOSED),
        (O.COMPLETED, [1, 2], [1], O.COMPLETED),
    ],
)
def test_order_status_after_shipping_depends_on_whether_every_line_is_in_a_parcel(
    current, all_line_ids, shipped_line_ids, expected
):
    result = order_status_after_shipping(current=current, all_line_ids=all_line_ids, shipped_line_ids=shipped_line_ids)

    assert result == expected


def test_order_status_after_shipping_accepts_one_shot_iterables():
    # The service passes a queryset's values_list; any iterable, even a generator, must do.
    result = order_status_after_shipping(
        current=O.PREPARING, all_line_ids=(i for i in [1, 2]), shipped_line_ids=(i for i in [2, 1])
    )

    assert result == O.SHIPPED
