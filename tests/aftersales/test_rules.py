"""The after-sale rules (aftersales.rules), table-driven at every boundary. Pure: no database."""

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import translation

from aftersales import rules
from aftersales.models import AfterSale, RefundEntry
from shop.models import Order, Parcel
from tests.shop.factories import at

S = AfterSale.Status
T = AfterSale.Type
P = Parcel.Status
D = Decimal


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


# --- check_application ---------------------------------------------------------------------------
FACTS = rules.ApplicationFacts(
    order_status=Order.Status.SHIPPED,
    applications_so_far=0,
    order_refundable=D("100.00"),
    line_refundable=D("100.00"),
    line_domestic_physical=True,
    line_has_open_after_sale=False,
)


def refused_code(facts, *, type: str, amount: Decimal | None) -> str | None:
    try:
        rules.check_application(facts, type=type, amount=amount)
    except rules.Refusal as refusal:
        return refusal.code
    return None


@pytest.mark.parametrize(
    "overrides, type, amount, expected",
    [
        # order status
        ({"order_status": Order.Status.PENDING_PAYMENT}, T.REFUND_ONLY, D("100.00"), "order_status"),
        ({"order_status": Order.Status.CLOSED}, T.REFUND_ONLY, D("100.00"), "order_status"),
        ({"order_status": Order.Status.PARTIALLY_SHIPPED}, T.RETURN_REFUND, D("100.00"), None),
        ({"order_status": Order.Status.SHIPPED}, T.PRICE_PROTECTION, D("5.00"), None),
        ({"order_status": Order.Status.COMPLETED}, T.RETURN_REFUND, D("0.01"), None),
        # preparing: only a full refund of the line
        ({"order_status": Order.Status.PREPARING}, T.REFUND_ONLY, D("100.00"), None),
        ({"order_status": Order.Status.PREPARING}, T.REFUND_ONLY, D("99.99"), "order_status"),
        ({"order_status": Order.Status.PREPARING}, T.REFUND_ONLY, D("100.01"), "order_status"),
        ({"order_status": Order.Status.PREPARING}, T.RETURN_REFUND, D("100.00"), "order_status"),
        ({"order_status": Order.Status.PREPARING}, T.PRICE_PROTECTION, D("100.00"), "order_status"),
        ({"order_status": Order.Status.PREPARING}, T.REFUND_ONLY, None, None),  # the card: any amount
        ({"order_status": Order.Status.PREPARING}, T.RETURN_REFUND, None, "order_status"),
        # a full refund of a line that already had a small payment is what is left on it
        ({"order_status": Order.Status.PREPARING, "line_refundable": D("70.00")}, T.REFUND_ONLY, D("70.00"), None),
        # the 5th application is accepted, the 6th refused (the count includes cancelled ones)
        ({"applications_so_far": 4}, T.REFUND_ONLY, D("100.00"), None),
        ({"applications_so_far": 5}, T.REFUND_ONLY, D("100.00"), "application_limit"),
        ({"applications_so_far": 6}, T.REFUND_ONLY, D("100.00"), "application_limit"),
        # the order's remaining refundable amount
        ({"order_refundable": D("0.00"), "line_refundable": D("0.00")}, T.REFUND_ONLY, D("1.00"), "nothing_refundable"),
        ({"order_refundable": D("0.01"), "line_refundable": D("0.01")}, T.REFUND_ONLY, D("0.01"), None),
        # a repeat application needs domestic physical goods; the first does not
        ({"line_domestic_physical": False}, T.REFUND_ONLY, D("100.00"), None),
        (
            {"line_domestic_physical": False, "applications_so_far": 1},
            T.REFUND_ONLY,
            D("100.00"),
            "not_domestic_physical",
        ),
        ({"line_domestic_physical": True, "applications_so_far": 1}, T.REFUND_ONLY, D("100.00"), None),
        # one open after-sale per line
        ({"line_has_open_after_sale": True}, T.REFUND_ONLY, D("100.00"), "open_after_sale_exists"),
        # the line's remaining refundable amount
        ({}, T.REFUND_ONLY, D("100.01"), "amount_exceeds_refundable"),
        ({"line_refundable": D("40.00")}, T.RETURN_REFUND, D("40.00"), None),
        ({"line_refundable": D("40.00")}, T.RETURN_REFUND, D("40.01"), "amount_exceeds_refundable"),
        ({"line_refundable": D("0.00")}, T.REFUND_ONLY, None, None),  # the card asks no amount
    ],
)
def test_check_application_at_every_boundary(overrides, type, amount, expected):
    assert refused_code(replace(FACTS, **overrides), type=type, amount=amount) == expected


ALL_FAILING = {
    "order_status": Order.Status.PENDING_PAYMENT,
    "applications_so_far": 5,
    "order_refundable": D("0.00"),
    "line_refundable": D("0.00"),
    "line_domestic_physical": False,
    "line_has_open_after_sale": True,
}


@pytest.mark.parametrize(
    "fixed, expected",
    [
        ({}, "order_status"),
        ({"order_status": Order.Status.SHIPPED}, "application_limit"),
        ({"order_status": Order.Status.SHIPPED, "applications_so_far": 4}, "nothing_refundable"),
        (
            {"order_status": Order.Status.SHIPPED, "applications_so_far": 4, "order_refundable": D("50.00")},
            "not_domestic_physical",
        ),
        (
            {
                "order_status": Order.Status.SHIPPED,
                "applications_so_far": 4,
                "order_refundable": D("50.00"),
                "line_domestic_physical": True,
            },
            "open_after_sale_exists",
        ),
        (
            {
                "order_status": Order.Status.SHIPPED,
                "applications_so_far": 4,
                "order_refundable": D("50.00"),
                "line_domestic_physical": True,
                "line_has_open_after_sale": False,
            },
            "amount_exceeds_refundable",
        ),
    ],
)
def test_check_application_answers_the_first_failing_rule_in_the_contracts_order(fixed, expected):
    facts = replace(FACTS, **{**ALL_FAILING, **fixed})

    assert refused_code(facts, type=T.REFUND_ONLY, amount=D("60.00")) == expected


def test_a_refusal_carries_a_message_for_people():
    with pytest.raises(rules.Refusal) as refusal:
        rules.check_application(replace(FACTS, line_refundable=D("40.00")), type=T.REFUND_ONLY, amount=D("50.00"))

    assert refusal.value.code == "amount_exceeds_refundable"
    assert refusal.value.message == "The amount is above what is left to refund on the line (40.00 yuan)."


# --- refund after refusal ------------------------------------------------------------------------
AGREED = rules.RefusalFacts(
    type=T.REFUND_ONLY,
    reason=AfterSale.Reason.NOT_RECEIVED,
    amount=D("129.00"),
    shop_cross_border=False,
    shop_hainan_duty_free=False,
    parcel_status=P.IN_TRANSIT,
    courier_supported=True,
    category="home",
)


@pytest.mark.parametrize(
    "overrides, expected",
    [
        ({}, None),
        ({"type": T.RETURN_REFUND}, "only for refund-only requests of goods not received"),
        ({"type": T.PRICE_PROTECTION}, "only for refund-only requests of goods not received"),
        ({"reason": AfterSale.Reason.DAMAGED}, "only for refund-only requests of goods not received"),
        ({"reason": AfterSale.Reason.QUALITY}, "only for refund-only requests of goods not received"),
        ({"parcel_status": None}, "the goods have not shipped"),
        ({"shop_cross_border": True}, "not for cross-border or Hainan duty-free shops"),
        ({"shop_hainan_duty_free": True}, "not for cross-border or Hainan duty-free shops"),
        ({"amount": D("999.99")}, None),
        ({"amount": D("1000.00")}, "amount over limit: must be below 1000.00 yuan"),
        ({"amount": D("1000.01")}, "amount over limit: must be below 1000.00 yuan"),
        ({"amount": D("0.01")}, None),
        ({"parcel_status": P.COLLECTED}, None),
        ({"parcel_status": P.IN_TRANSIT}, None),
        ({"parcel_status": P.OUT_FOR_DELIVERY}, None),
        ({"parcel_status": P.SIGNED}, "the parcel is not normally in transit"),
        ({"parcel_status": P.REFUSED}, "the parcel is not normally in transit"),
        ({"parcel_status": P.INTERCEPTED}, "the parcel is not normally in transit"),
        ({"parcel_status": P.RETURNING}, "the parcel is not normally in transit"),
        ({"parcel_status": P.RETURNED}, "the parcel is not normally in transit"),
        ({"parcel_status": P.EXCEPTION}, "the parcel is not normally in transit"),
        ({"parcel_status": P.LOST}, "the parcel is not normally in transit"),
        ({"parcel_status": P.DAMAGED}, "the parcel is not normally in transit"),
        ({"courier_supported": False}, "the courier is not supported"),
        ({"category": "fresh"}, "the category is not supported"),
        ({"category": "virtual"}, "the category is not supported"),
        ({"category": "customized"}, "the category is not supported"),
        ({"category": "digital"}, None),
    ],
)
def test_refund_after_refusal_blocker_checks_each_condition(overrides, expected):
    assert rules.refund_after_refusal_blocker(replace(AGREED, **overrides)) == expected


def test_every_parcel_status_is_classified_for_refund_after_refusal():
    agreed = {s for s in P.values if rules.refund_after_refusal_blocker(replace(AGREED, parcel_status=s)) is None}

    assert agreed == {P.COLLECTED, P.IN_TRANSIT, P.OUT_FOR_DELIVERY}


def test_unsupported_refusal_categories_are_configurable(settings):
    settings.AFTERSALES_UNSUPPORTED_REFUSAL_CATEGORIES = ["home"]

    assert rules.refund_after_refusal_blocker(AGREED) == "the category is not supported"


# --- deadlines -----------------------------------------------------------------------------------
RESOLVED = at("2026-11-23 09:00")


@pytest.mark.parametrize(
    "current, expected",
    [
        (None, RESOLVED + timedelta(hours=48)),
        (RESOLVED + timedelta(days=7), RESOLVED + timedelta(hours=48)),
        (RESOLVED + timedelta(hours=48, seconds=1), RESOLVED + timedelta(hours=48)),
        (RESOLVED + timedelta(hours=48), RESOLVED + timedelta(hours=48)),  # exactly 48 h left: stays
        (
            RESOLVED + timedelta(hours=47, minutes=59, seconds=59),
            RESOLVED + timedelta(hours=47, minutes=59, seconds=59),
        ),
        (RESOLVED + timedelta(hours=1), RESOLVED + timedelta(hours=1)),
        (RESOLVED, RESOLVED),
        (RESOLVED - timedelta(hours=1), RESOLVED - timedelta(hours=1)),  # already overdue: never extended
    ],
)
def test_deadline_after_parcel_resolved_is_48_hours_unless_less_remains(current, expected):
    assert rules.deadline_after_parcel_resolved(current, RESOLVED) == expected


APPLIED = at("2026-11-22 10:15")


@pytest.mark.parametrize(
    "status, expected",
    [
        (S.PENDING_MERCHANT, at("2026-11-24 10:15")),
        (S.REFUND_AFTER_REFUSAL, at("2026-11-29 10:15")),
        (S.AWAITING_BUYER_RETURN, None),
        (S.AWAITING_MERCHANT_RECEIPT, None),
        (S.ARBITRATION, None),
        (S.REFUNDED, None),
        (S.REJECTED, None),
        (S.CANCELLED, None),
        (S.CLOSED, None),
    ],
)
def test_initial_deadline(status, expected):
    assert rules.initial_deadline(status, APPLIED) == expected


def test_rule_figures_are_the_domains():
    assert rules.MAX_APPLICATIONS_PER_ORDER == 5
    assert rules.REFUSAL_AMOUNT_LIMIT == D("1000.00")
    assert rules.NEW_APPLICATION_DEADLINE == timedelta(hours=48)
    assert rules.REFUND_AFTER_REFUSAL_DEADLINE == timedelta(days=7)
    assert rules.PARCEL_RESOLVED_DEADLINE == timedelta(hours=48)
    assert rules.RETURN_RECEIPT_DEADLINE == timedelta(days=7)


# --- timeouts ------------------------------------------------------------------------------------
REFUND = rules.TimeoutAction(S.REFUNDED, refund=True, deadline=None)
ASK_RETURN = rules.TimeoutAction(S.AWAITING_BUYER_RETURN, refund=False, deadline=timedelta(days=7))
LAPSE = rules.TimeoutAction(S.CLOSED, refund=False, deadline=None)

TIMEOUTS = {
    (S.PENDING_MERCHANT, T.REFUND_ONLY): REFUND,
    (S.PENDING_MERCHANT, T.PRICE_PROTECTION): REFUND,
    (S.PENDING_MERCHANT, T.RETURN_REFUND): ASK_RETURN,
    (S.REFUND_AFTER_REFUSAL, T.REFUND_ONLY): REFUND,
    (S.AWAITING_MERCHANT_RECEIPT, T.RETURN_REFUND): REFUND,
    (S.AWAITING_BUYER_RETURN, T.RETURN_REFUND): LAPSE,
}
# Statuses that only one type can reach are still answered for the others, the same way.
for _type in T.values:
    TIMEOUTS.setdefault((S.REFUND_AFTER_REFUSAL, _type), REFUND)
    TIMEOUTS.setdefault((S.AWAITING_MERCHANT_RECEIPT, _type), REFUND)
    TIMEOUTS.setdefault((S.AWAITING_BUYER_RETURN, _type), LAPSE)


@pytest.mark.parametrize("status", S.values)
@pytest.mark.parametrize("type", T.values)
def test_timeout_action_for_every_status_and_type(status, type):
    assert rules.timeout_action(status, type) == TIMEOUTS.get((status, type))


def test_arbitration_and_closed_after_sales_have_no_timeout():
    for status in (S.ARBITRATION, S.REFUNDED, S.REJECTED, S.CANCELLED, S.CLOSED):
        assert all(rules.timeout_action(status, type) is None for type in T.values)


# --- the merchant's actions ----------------------------------------------------------------------
def action(status, type=T.REFUND_ONLY, *, parcel_status=P.IN_TRANSIT, line_refundable="100.00", amount="100.00"):
    return rules.ActionFacts(
        status=status, type=type, parcel_status=parcel_status, line_refundable=D(line_refundable), amount=D(amount)
    )


CLOSED_REASON = "the after-sale is closed"
ARBITRATION_REASON = "the platform is deciding this after-sale"
OVER_LINE = "the amount is above what is left to refund on the line"


@pytest.mark.parametrize(
    "facts, expected",
    [
        (action(S.PENDING_MERCHANT), None),
        (action(S.PENDING_MERCHANT, T.PRICE_PROTECTION), None),
        (action(S.PENDING_MERCHANT, T.RETURN_REFUND), "a return and refund is agreed with “agree return” first"),
        (action(S.REFUND_AFTER_REFUSAL), None),
        (action(S.REFUND_AFTER_REFUSAL, parcel_status=P.REFUSED), None),
        (action(S.AWAITING_BUYER_RETURN, T.RETURN_REFUND), "refund once the returned goods are received"),
        (action(S.AWAITING_MERCHANT_RECEIPT, T.RETURN_REFUND), "refund once the returned goods are received"),
        (action(S.ARBITRATION), ARBITRATION_REASON),
        (action(S.REFUNDED), CLOSED_REASON),
        (action(S.REJECTED), CLOSED_REASON),
        (action(S.CANCELLED), CLOSED_REASON),
        (action(S.CLOSED), CLOSED_REASON),
        (action(S.PENDING_MERCHANT, line_refundable="100.00", amount="100.00"), None),
        (action(S.PENDING_MERCHANT, line_refundable="99.99", amount="100.00"), OVER_LINE),
    ],
)
def test_agree_refund_blocker(facts, expected):
    assert rules.agree_refund_blocker(facts) == expected


@pytest.mark.parametrize(
    "facts, expected",
    [
        (action(S.PENDING_MERCHANT, T.RETURN_REFUND), None),
        (action(S.PENDING_MERCHANT, T.REFUND_ONLY), "only for return and refund requests"),
        (action(S.PENDING_MERCHANT, T.PRICE_PROTECTION), "only for return and refund requests"),
        (action(S.REFUND_AFTER_REFUSAL, T.REFUND_ONLY), "only for return and refund requests"),
        (action(S.AWAITING_BUYER_RETURN, T.RETURN_REFUND), "the return was already agreed"),
        (action(S.AWAITING_MERCHANT_RECEIPT, T.RETURN_REFUND), "the return was already agreed"),
        (action(S.ARBITRATION, T.RETURN_REFUND), ARBITRATION_REASON),
        (action(S.REFUNDED, T.RETURN_REFUND), CLOSED_REASON),
        (action(S.REJECTED, T.RETURN_REFUND), CLOSED_REASON),
        (action(S.CANCELLED, T.RETURN_REFUND), CLOSED_REASON),
        (action(S.CLOSED, T.RETURN_REFUND), CLOSED_REASON),
    ],
)
def test_agree_return_blocker(facts, expected):
    assert rules.agree_return_blocker(facts) == expected


NOT_SHIPPED_BACK = "the buyer has not shipped the goods back yet"


@pytest.mark.parametrize(
    "facts, expected",
    [
        (action(S.AWAITING_MERCHANT_RECEIPT, T.RETURN_REFUND), None),
        (action(S.AWAITING_MERCHANT_RECEIPT, T.RETURN_REFUND, line_refundable="99.99"), OVER_LINE),
        (action(S.PENDING_MERCHANT, T.RETURN_REFUND), NOT_SHIPPED_BACK),
        (action(S.AWAITING_BUYER_RETURN, T.RETURN_REFUND), NOT_SHIPPED_BACK),
        (action(S.REFUND_AFTER_REFUSAL), NOT_SHIPPED_BACK),
        (action(S.ARBITRATION, T.RETURN_REFUND), ARBITRATION_REASON),
        (action(S.REFUNDED, T.RETURN_REFUND), CLOSED_REASON),
        (action(S.CLOSED, T.RETURN_REFUND), CLOSED_REASON),
    ],
)
def test_confirm_receipt_blocker(facts, expected):
    assert rules.confirm_receipt_blocker(facts) == expected


WAIT_FOR_PARCEL = "the platform agreed refund after refusal: reject only once the buyer has signed for the parcel"


@pytest.mark.parametrize(
    "facts, expected",
    [
        (action(S.PENDING_MERCHANT), None),
        (action(S.PENDING_MERCHANT, T.RETURN_REFUND), None),
        (action(S.PENDING_MERCHANT, parcel_status=None), None),
        (action(S.AWAITING_MERCHANT_RECEIPT, T.RETURN_REFUND), None),
        (action(S.AWAITING_BUYER_RETURN, T.RETURN_REFUND), "the buyer is sending the goods back"),
        # refund after refusal: the merchant may reject (pointing to return and refund) once the buyer signed
        (action(S.REFUND_AFTER_REFUSAL, parcel_status=P.SIGNED), None),
        *[
            (action(S.REFUND_AFTER_REFUSAL, parcel_status=status), WAIT_FOR_PARCEL)
            for status in P.values
            if status != P.SIGNED
        ],
        (action(S.ARBITRATION), ARBITRATION_REASON),
        (action(S.REFUNDED), CLOSED_REASON),
        (action(S.REJECTED), CLOSED_REASON),
        (action(S.CANCELLED), CLOSED_REASON),
        (action(S.CLOSED), CLOSED_REASON),
    ],
)
def test_reject_blocker(facts, expected):
    assert rules.reject_blocker(facts) == expected


@pytest.mark.parametrize(
    "line_refundable, amount, expected",
    [
        ("100.00", None, None),
        ("0.01", None, None),
        ("0.00", None, "nothing is left to refund on the line"),
        ("0.00", "0.01", "nothing is left to refund on the line"),
        ("30.00", "30.00", None),
        ("30.00", "30.01", "the amount is above what is left to refund on the line (30.00 yuan)"),
        ("10.00", "30.00", "the amount is above what is left to refund on the line (10.00 yuan)"),
    ],
)
def test_small_payment_blocker(line_refundable, amount, expected):
    amount = D(amount) if amount is not None else None

    assert rules.small_payment_blocker(line_refundable=D(line_refundable), amount=amount) == expected


@pytest.mark.parametrize(
    "type, kind",
    [
        (T.REFUND_ONLY, RefundEntry.Kind.REFUND_ONLY),
        (T.RETURN_REFUND, RefundEntry.Kind.RETURN_REFUND),
        (T.PRICE_PROTECTION, RefundEntry.Kind.PRICE_PROTECTION),
    ],
)
def test_refund_kind_follows_the_after_sale_type(type, kind):
    assert rules.refund_kind(type) == kind


NOW = at("2026-11-22 10:00")


@pytest.mark.parametrize(
    "deadline, expected",
    [
        (None, False),
        (NOW - timedelta(seconds=1), False),  # already overdue: the sweep's business, not "about to"
        (NOW, True),
        (NOW + timedelta(hours=11, minutes=59, seconds=59), True),
        (NOW + timedelta(hours=12), False),
        (NOW + timedelta(days=2), False),
    ],
)
def test_is_about_to_time_out_is_less_than_12_hours_left(deadline, expected):
    assert rules.is_about_to_time_out(deadline, NOW) is expected


def test_the_database_constraints_know_the_same_open_statuses_as_the_code():
    from aftersales.models import OPEN_STATUS_VALUES, AfterSale

    assert OPEN_STATUS_VALUES == [str(status) for status in AfterSale.OPEN_STATUSES]
