"""The mix of the seeded volume: how often each status and parcel state occurs, and what goes with it.

Pure: random choices from the seeder's generator, no database.
"""

import random
from datetime import datetime, timedelta
from decimal import Decimal

from aftersales.models import Actor, AfterSale
from interception.models import ServiceOrder
from shop import demo
from shop.models import Parcel

S = AfterSale.Status
P = Parcel.Status
T = AfterSale.Type
R = AfterSale.Reason

USERNAME = "scale"
PASSWORD = demo.DEMO_PASSWORD

# Share of each after-sale status (about 40 % open).
STATUS_WEIGHTS = {
    S.PENDING_MERCHANT: 22,
    S.REFUND_AFTER_REFUSAL: 5,
    S.AWAITING_BUYER_RETURN: 6,
    S.AWAITING_MERCHANT_RECEIPT: 6,
    S.ARBITRATION: 1,
    S.REFUNDED: 38,
    S.REJECTED: 8,
    S.CANCELLED: 10,
    S.CLOSED: 4,
}
STATUSES = list(STATUS_WEIGHTS)
OPEN = frozenset(AfterSale.OPEN_STATUSES)
PARCEL_WEIGHTS = {
    P.COLLECTED: 4,
    P.IN_TRANSIT: 14,
    P.OUT_FOR_DELIVERY: 5,
    P.SIGNED: 50,
    P.REFUSED: 5,
    P.INTERCEPTED: 6,
    P.RETURNING: 4,
    P.RETURNED: 6,
    P.EXCEPTION: 3,
    P.LOST: 2,
    P.DAMAGED: 1,
}
MOVING = frozenset(Parcel.MOVING_STATUSES)
# Parcel states an after-sale status goes with; None = not shipped. Missing = any state, or none.
PARCEL_STATES_FOR = {
    S.REFUND_AFTER_REFUSAL: [P.IN_TRANSIT, P.OUT_FOR_DELIVERY, P.REFUSED],
    S.AWAITING_BUYER_RETURN: [P.SIGNED],
    S.AWAITING_MERCHANT_RECEIPT: [P.SIGNED],
    S.ARBITRATION: [P.SIGNED, P.SIGNED, P.LOST, P.DAMAGED, P.EXCEPTION],
    S.REJECTED: [P.SIGNED, P.SIGNED, P.SIGNED, P.IN_TRANSIT],
}
# Interception service orders that match a parcel's state: (service-order status, succeeded?).
INTERCEPTED = {
    P.INTERCEPTED: (ServiceOrder.Status.SUCCEEDED, True),
    P.RETURNING: (ServiceOrder.Status.RETURNING, True),
    P.RETURNED: (ServiceOrder.Status.RETURNED, True),
}
LAST_ACTOR = {
    S.PENDING_MERCHANT: Actor.BUYER,
    S.REFUND_AFTER_REFUSAL: Actor.MERCHANT,
    S.AWAITING_BUYER_RETURN: Actor.MERCHANT,
    S.AWAITING_MERCHANT_RECEIPT: Actor.BUYER,
    S.ARBITRATION: Actor.BUYER,
    S.REFUNDED: Actor.MERCHANT,
    S.REJECTED: Actor.MERCHANT,
    S.CANCELLED: Actor.BUYER,
    S.CLOSED: Actor.PLATFORM,
}
FLAGS = [f.value for f in AfterSale.Flag if f.value]
ONLINE_FEE = Decimal("3.00")


def money(cents: int) -> Decimal:
    return Decimal(cents).scaleb(-2)


def pick_status(rng: random.Random) -> str:
    return rng.choices(STATUSES, weights=STATUS_WEIGHTS.values())[0]


def pick_parcel_state(rng: random.Random, status: str) -> str | None:
    if status in PARCEL_STATES_FOR:
        return rng.choice(PARCEL_STATES_FOR[status])
    if rng.random() < 0.18:
        return None  # not shipped yet: refund only
    return rng.choices(list(PARCEL_WEIGHTS), weights=PARCEL_WEIGHTS.values())[0]


def fits(status: str, parcel_state: str | None) -> bool:
    allowed = PARCEL_STATES_FOR.get(status)
    return allowed is None or parcel_state in allowed


def pick_type_reason(rng: random.Random, status: str, parcel_state: str | None) -> tuple[str, str]:
    if parcel_state is None:
        return T.REFUND_ONLY, rng.choice([R.NO_LONGER_NEEDED, R.NO_LONGER_NEEDED, R.OTHER])
    if status in (S.AWAITING_BUYER_RETURN, S.AWAITING_MERCHANT_RECEIPT):
        return T.RETURN_REFUND, rng.choice([R.QUALITY, R.DAMAGED, R.WRONG_ITEM, R.NO_LONGER_NEEDED])
    if parcel_state == P.SIGNED and status != S.REFUND_AFTER_REFUSAL:
        kind = rng.choices([T.RETURN_REFUND, T.REFUND_ONLY, T.PRICE_PROTECTION], weights=[55, 30, 15])[0]
        if kind == T.PRICE_PROTECTION:
            return kind, R.PRICE_DROP
        return kind, rng.choice([R.QUALITY, R.DAMAGED, R.WRONG_ITEM, R.NO_LONGER_NEEDED, R.OTHER])
    if parcel_state in (P.LOST, P.DAMAGED, P.EXCEPTION):
        return T.REFUND_ONLY, R.DAMAGED if parcel_state == P.DAMAGED else R.NOT_RECEIVED
    return T.REFUND_ONLY, rng.choice([R.NOT_RECEIVED, R.NOT_RECEIVED, R.NO_LONGER_NEEDED])


def timeline(rng: random.Random, now: datetime, status: str):
    """(applied_at, deadline, closed_at) for an after-sale in this status, as of `now`."""
    if status in OPEN:
        if rng.random() < 0.08:  # overdue: the timeout sweep has not taken it yet
            deadline = now - timedelta(seconds=rng.uniform(60, 36 * 3600))
        elif status == S.PENDING_MERCHANT:
            deadline = now + timedelta(seconds=rng.uniform(60, 48 * 3600))
        else:
            deadline = now + timedelta(seconds=rng.uniform(60, 7 * 24 * 3600))
        window = timedelta(hours=48) if status == S.PENDING_MERCHANT else timedelta(days=7)
        applied = min(deadline - window, now - timedelta(minutes=5))
        return applied, deadline, None
    applied = now - timedelta(seconds=rng.uniform(2 * 86400, 85 * 86400))
    closed = min(applied + timedelta(seconds=rng.uniform(600, 5 * 86400)), now)
    return applied, None, closed
