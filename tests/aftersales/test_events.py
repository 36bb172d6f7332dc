"""The after-sales part of the events API: aftersale.* and parcel.status driving after-sales."""

from decimal import Decimal

import pytest

from aftersales.models import AfterSale, AfterSaleLog, BuyerNotification, RefundEntry
from shop.models import Buyer, Order, Parcel
from tests.aftersales.factories import make_after_sale, snapshot
from tests.shop.factories import make_order, make_parcel

APPLIED_AT = "2026-11-22T10:15:00+08:00"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def applied(
    after_sale_no="AS-5001",
    order_no="O-1001",
    line_no="1",
    type="refund_only",
    reason="not_received",
    amount="129.00",
    note="一直没到",
):
    return {
        "after_sale_no": after_sale_no,
        "order_no": order_no,
        "line_no": line_no,
        "type": type,
        "reason": reason,
        "amount": amount,
        "note": note,
    }


@pytest.fixture
def shipped_order(shop, yto_outlet):
    order = make_order(shop, order_no="O-1001", status=Order.Status.SHIPPED, lines=[{"paid_amount": "129.00"}])
    make_parcel(order, outlet=yto_outlet, tracking_no="YT1234567890", status=Parcel.Status.IN_TRANSIT)
    return order


def test_refund_only_not_received_in_transit_is_agreed_as_refund_after_refusal(events, shipped_order):
    response = events.send("aftersale.applied", applied(), occurred_at=APPLIED_AT)

    assert response.status_code == 200
    assert response.json() == {
        "result": "applied",
        "after_sale": {
            "after_sale_no": "AS-5001",
            "order_no": "O-1001",
            "line_no": "1",
            "type": "refund_only",
            "status": "refund_after_refusal",
            "amount": "129.00",
            "sequence": 1,
            "multi_refund": False,
            "deadline": "2026-11-29T10:15:00+08:00",
            "refunded_amount": "0.00",
        },
    }
    assert BuyerNotification.objects.get().kind == "refuse_parcel"


def test_trusted_buyers_refusal_refunds_at_once(events, shipped_order):
    Buyer.objects.filter(pk=shipped_order.buyer_id).update(trusted=True)
    events.send("aftersale.applied", applied(), occurred_at=APPLIED_AT)

    response = events.send(
        "parcel.status",
        {"tracking_no": "YT1234567890", "courier": "YTO", "status": "refused", "at": "2026-11-23T09:00:00+08:00"},
    )

    body = response.json()
    assert body["parcel"] == {"tracking_no": "YT1234567890", "status": "refused"}
    assert [(a["status"], a["refunded_amount"], a["deadline"]) for a in body["after_sales"]] == [
        ("refunded", "129.00", None)
    ]
    entry = RefundEntry.objects.get()
    assert (entry.kind, entry.amount, entry.actor) == ("refund_only", Decimal("129.00"), "platform")
    shipped_order.refresh_from_db()
    assert shipped_order.refunded_amount == Decimal("129.00")


def test_ordinary_buyers_refusal_sets_48_hours_from_the_refusal(events, shipped_order):
    events.send("aftersale.applied", applied(), occurred_at=APPLIED_AT)

    response = events.send(
        "parcel.status",
        {"tracking_no": "YT1234567890", "courier": "YTO", "status": "refused", "at": "2026-11-23T09:00:00+08:00"},
    )

    assert [(a["status"], a["deadline"]) for a in response.json()["after_sales"]] == [
        ("refund_after_refusal", "2026-11-25T09:00:00+08:00")
    ]
    assert RefundEntry.objects.count() == 0


def test_sign_for_with_less_than_48_hours_left_keeps_the_deadline(events, shipped_order):
    events.send("aftersale.applied", applied(), occurred_at=APPLIED_AT)  # deadline 11-29 10:15

    response = events.send(
        "parcel.status",
        {"tracking_no": "YT1234567890", "courier": "YTO", "status": "signed", "at": "2026-11-28T10:15:00+08:00"},
    )  # exactly 24 h left

    assert response.json()["after_sales"] == []
    assert AfterSale.objects.get().deadline.isoformat() == "2026-11-29T02:15:00+00:00"


def test_sign_for_with_exactly_48_hours_left_keeps_the_deadline(events, shipped_order):
    events.send("aftersale.applied", applied(), occurred_at=APPLIED_AT)

    response = events.send(
        "parcel.status",
        {"tracking_no": "YT1234567890", "courier": "YTO", "status": "signed", "at": "2026-11-27T10:15:00+08:00"},
    )

    assert response.json()["after_sales"] == []


def test_sixth_application_is_refused_even_when_one_was_cancelled(events, shop):
    make_order(
        shop,
        order_no="O-1001",
        status=Order.Status.COMPLETED,
        lines=[{"paid_amount": "50.00", "line_no": str(i)} for i in range(1, 7)],
    )
    for i in range(1, 6):
        r = events.send(
            "aftersale.applied",
            applied(f"AS-{i}", line_no=str(i), type="return_refund", reason="quality", amount="10.00"),
        )
        assert r.json()["after_sale"]["sequence"] == i
        if i == 2:
            assert events.send("aftersale.cancelled", {"after_sale_no": "AS-2"}).json()["after_sale"]["status"] == (
                "cancelled"
            )

    response = events.send(
        "aftersale.applied", applied("AS-6", line_no="6", type="return_refund", reason="quality", amount="10.00")
    )

    assert response.status_code == 409
    assert response.json()["code"] == "application_limit"
    assert AfterSale.objects.count() == 5
    assert AfterSaleLog.objects.filter(after_sale__after_sale_no="AS-6").count() == 0


# --- helpers of the tests below ---------------------------------------------------------------------
def status_event(status, at_, tracking_no="YT1234567890", courier="YTO"):
    return {"tracking_no": tracking_no, "courier": courier, "status": status, "at": at_}


def after_sale_json_of(after_sale_no):
    from aftersales.serializers import after_sale_json

    return after_sale_json(AfterSale.objects.select_related("order", "line").get(after_sale_no=after_sale_no))


@pytest.fixture
def completed_order(shop):
    """A completed order with three domestic lines and one that is not; no parcel reaches the rules."""
    return make_order(
        shop,
        order_no="O-2001",
        status=Order.Status.COMPLETED,
        lines=[
            {"line_no": "1", "paid_amount": "100.00"},
            {"line_no": "2", "paid_amount": "50.00"},
            {"line_no": "3", "paid_amount": "20.00"},
            {"line_no": "4", "paid_amount": "30.00", "domestic_physical": False},
        ],
    )


def refund_line(order, line_no, amount, key):
    from aftersales import ledger

    ledger.record_refund(
        line=order.lines.get(line_no=line_no),
        after_sale=None,
        kind="small_payment",
        amount=Decimal(amount),
        actor="merchant",
        idempotency_key=key,
    )


# --- aftersale.applied ------------------------------------------------------------------------------
def test_return_and_refund_application_waits_48_hours_for_the_merchant(events, completed_order):
    response = events.send(
        "aftersale.applied",
        applied("AS-7001", "O-2001", "2", type="return_refund", reason="quality", amount="50.00"),
        occurred_at="2026-11-22T10:15:00+08:00",
    )

    assert response.status_code == 200
    assert response.json() == {
        "result": "applied",
        "after_sale": {
            "after_sale_no": "AS-7001",
            "order_no": "O-2001",
            "line_no": "2",
            "type": "return_refund",
            "status": "pending_merchant",
            "amount": "50.00",
            "sequence": 1,
            "multi_refund": False,
            "deadline": "2026-11-24T10:15:00+08:00",
            "refunded_amount": "0.00",
        },
    }
    after_sale = AfterSale.objects.get()
    assert (after_sale.reason, after_sale.buyer_note, after_sale.last_actor) == ("quality", "一直没到", "buyer")
    assert list(after_sale.logs.values_list("action", "actor", "to_status")) == [
        ("applied", "buyer", "pending_merchant")
    ]
    assert BuyerNotification.objects.count() == 0


@pytest.mark.parametrize(
    "amount, status, deadline",
    [
        ("999.99", "refund_after_refusal", "2026-11-29T10:15:00+08:00"),
        ("1000.00", "pending_merchant", "2026-11-24T10:15:00+08:00"),
    ],
)
def test_refund_after_refusal_is_agreed_below_1000_yuan_only(events, shop, yto_outlet, amount, status, deadline):
    order = make_order(shop, order_no="O-1001", status=Order.Status.SHIPPED, lines=[{"paid_amount": "1200.00"}])
    make_parcel(order, outlet=yto_outlet, tracking_no="YT1234567890")

    body = events.send("aftersale.applied", applied(amount=amount)).json()

    assert (body["after_sale"]["status"], body["after_sale"]["deadline"]) == (status, deadline)
    assert AfterSale.objects.get().last_actor == ("platform" if status == "refund_after_refusal" else "buyer")


def test_refund_after_refusal_not_available_is_recorded_with_the_reason(events, shipped_order):
    Parcel.objects.update(status=Parcel.Status.EXCEPTION)

    body = events.send("aftersale.applied", applied()).json()

    assert body["after_sale"]["status"] == "pending_merchant"
    log = AfterSale.objects.get().logs.get(action="status")
    assert (log.actor, log.from_status, log.to_status) == ("platform", "", "")
    assert BuyerNotification.objects.count() == 0


def test_full_refund_of_a_line_while_preparing_is_accepted(events, shop):
    make_order(shop, order_no="O-1001", status=Order.Status.PREPARING, lines=[{"paid_amount": "129.00"}])

    body = events.send("aftersale.applied", applied(reason="no_longer_needed")).json()

    assert body["after_sale"]["status"] == "pending_merchant"
    assert body["after_sale"]["deadline"] == "2026-11-24T10:15:00+08:00"
    assert AfterSale.objects.get().parcel is None


def test_repeat_application_after_a_refund_on_the_line_is_a_multi_refund_with_its_number(
    events, completed_order, merchant, shop
):
    from aftersales import services

    events.send("aftersale.applied", applied("AS-1", "O-2001", "1", reason="quality", amount="30.00"))
    services.agree_refund(after_sale_id=AfterSale.objects.get(after_sale_no="AS-1").pk, shop=shop, user=merchant)
    events.send(
        "aftersale.applied", applied("AS-2", "O-2001", "2", type="return_refund", reason="quality", amount="5.00")
    )

    third = events.send(
        "aftersale.applied", applied("AS-3", "O-2001", "1", type="return_refund", reason="quality", amount="70.00")
    )

    assert third.status_code == 200
    assert {k: third.json()["after_sale"][k] for k in ("sequence", "multi_refund", "amount", "status")} == {
        "sequence": 3,
        "multi_refund": True,
        "amount": "70.00",
        "status": "pending_merchant",
    }
    assert AfterSale.objects.get(after_sale_no="AS-2").multi_refund is False


def test_a_small_payment_on_the_line_also_makes_the_next_application_a_multi_refund(events, completed_order):
    refund_line(completed_order, "3", "5.00", "small-1")

    body = events.send("aftersale.applied", applied("AS-1", "O-2001", "3", reason="quality", amount="15.00")).json()

    assert (body["after_sale"]["sequence"], body["after_sale"]["multi_refund"]) == (1, True)


def test_a_refund_on_another_line_does_not_make_a_multi_refund(events, completed_order):
    refund_line(completed_order, "1", "5.00", "small-1")

    body = events.send("aftersale.applied", applied("AS-1", "O-2001", "2", reason="quality", amount="50.00")).json()

    assert body["after_sale"]["multi_refund"] is False


# --- aftersale.cancelled ----------------------------------------------------------------------------
def test_buyer_cancels_and_the_outcome_is_the_closed_after_sale(events, shipped_order):
    events.send("aftersale.applied", applied())

    response = events.send("aftersale.cancelled", {"after_sale_no": "AS-5001"}, occurred_at="2026-11-23T08:00:00+08:00")

    assert response.status_code == 200
    assert response.json() == {
        "result": "applied",
        "after_sale": {
            "after_sale_no": "AS-5001",
            "order_no": "O-1001",
            "line_no": "1",
            "type": "refund_only",
            "status": "cancelled",
            "amount": "129.00",
            "sequence": 1,
            "multi_refund": False,
            "deadline": None,
            "refunded_amount": "0.00",
        },
    }
    after_sale = AfterSale.objects.get()
    assert (after_sale.deadline, after_sale.closed_at.isoformat()) == (None, "2026-11-23T00:00:00+00:00")
    assert after_sale.logs.filter(action="status", to_status="cancelled", actor="buyer").count() == 1


def test_cancelling_twice_is_an_invalid_transition_and_changes_nothing(events, shipped_order):
    events.send("aftersale.applied", applied())
    events.send("aftersale.cancelled", {"after_sale_no": "AS-5001"})
    before = snapshot()

    response = events.send("aftersale.cancelled", {"after_sale_no": "AS-5001"})

    assert response.status_code == 409
    assert response.json()["code"] == "invalid_transition"
    assert snapshot() == before


def test_a_cancelled_application_leaves_the_line_free_for_a_new_one(events, shipped_order):
    events.send("aftersale.applied", applied())
    events.send("aftersale.cancelled", {"after_sale_no": "AS-5001"})

    body = events.send("aftersale.applied", applied("AS-5002", type="return_refund", reason="quality")).json()

    assert (body["result"], body["after_sale"]["sequence"], body["after_sale"]["multi_refund"]) == ("applied", 2, False)


# --- aftersale.return_shipped -----------------------------------------------------------------------
def test_buyer_ships_the_return_and_the_merchant_gets_7_days(events, completed_order, shop, merchant):
    from aftersales import services

    events.send(
        "aftersale.applied", applied("AS-1", "O-2001", "1", type="return_refund", reason="quality", amount="100.00")
    )
    services.agree_return(after_sale_id=AfterSale.objects.get().pk, shop=shop, user=merchant)

    response = events.send(
        "aftersale.return_shipped",
        {"after_sale_no": "AS-1", "tracking_no": "SF000111", "courier": "SF"},
        occurred_at="2026-11-23T12:00:00+08:00",
    )

    assert response.status_code == 200
    assert response.json() == {
        "result": "applied",
        "after_sale": {
            "after_sale_no": "AS-1",
            "order_no": "O-2001",
            "line_no": "1",
            "type": "return_refund",
            "status": "awaiting_merchant_receipt",
            "amount": "100.00",
            "sequence": 1,
            "multi_refund": False,
            "deadline": "2026-11-30T12:00:00+08:00",
            "refunded_amount": "0.00",
        },
    }
    after_sale = AfterSale.objects.get()
    assert (after_sale.return_tracking_no, after_sale.return_courier) == ("SF000111", "SF")


@pytest.mark.parametrize("status", ["pending_merchant", "refunded", "awaiting_merchant_receipt"])
def test_return_shipped_before_the_return_was_agreed_is_refused_and_changes_nothing(events, completed_order, status):
    make_after_sale(completed_order, after_sale_no="AS-1", type="return_refund", reason="quality", status=status)
    before = snapshot()

    response = events.send("aftersale.return_shipped", {"after_sale_no": "AS-1", "tracking_no": "SF1", "courier": "SF"})

    assert response.status_code == 409
    assert response.json()["code"] == "invalid_transition"
    assert snapshot() == before


# --- every 409 through the API, nothing changed -----------------------------------------------------
def _setup_already_exists(shop, yto_outlet):
    order = make_order(shop, order_no="O-1001", status=Order.Status.SHIPPED, lines=[{"paid_amount": "129.00"}])
    other = make_order(shop, order_no="O-1002", status=Order.Status.SHIPPED, lines=[{"paid_amount": "129.00"}])
    make_after_sale(other, after_sale_no="AS-5001", status="cancelled")
    return order


def _setup_pending_payment(shop, yto_outlet):
    return make_order(shop, order_no="O-1001", status=Order.Status.PENDING_PAYMENT, lines=[{"paid_amount": "129.00"}])


def _setup_preparing(shop, yto_outlet):
    return make_order(shop, order_no="O-1001", status=Order.Status.PREPARING, lines=[{"paid_amount": "129.00"}])


def _setup_closed(shop, yto_outlet):
    return make_order(shop, order_no="O-1001", status=Order.Status.CLOSED, lines=[{"paid_amount": "129.00"}])


def _setup_five_applications(shop, yto_outlet):
    order = make_order(
        shop,
        order_no="O-1001",
        status=Order.Status.COMPLETED,
        lines=[{"line_no": str(i), "paid_amount": "129.00"} for i in range(1, 7)],
    )
    for i, status in enumerate(["cancelled", "refunded", "cancelled", "rejected", "pending_merchant"], start=2):
        make_after_sale(order, line=order.lines.get(line_no=str(i)), status=status, amount="1.00")
    return order


def _setup_fully_refunded(shop, yto_outlet):
    order = make_order(
        shop,
        order_no="O-1001",
        status=Order.Status.COMPLETED,
        lines=[{"line_no": "1", "paid_amount": "129.00"}, {"line_no": "2", "paid_amount": "1.00"}],
    )
    refund_line(order, "1", "129.00", "k1")
    refund_line(order, "2", "1.00", "k2")
    return order


def _setup_repeat_not_domestic(shop, yto_outlet):
    order = make_order(
        shop,
        order_no="O-1001",
        status=Order.Status.COMPLETED,
        lines=[
            {"line_no": "1", "paid_amount": "129.00", "domestic_physical": False},
            {"line_no": "2", "paid_amount": "1.00"},
        ],
    )
    make_after_sale(order, line=order.lines.get(line_no="2"), status="cancelled")
    return order


def _setup_open_after_sale(shop, yto_outlet):
    order = make_order(shop, order_no="O-1001", status=Order.Status.SHIPPED, lines=[{"paid_amount": "129.00"}])
    make_after_sale(order, type="return_refund", reason="quality", status="awaiting_buyer_return")
    return order


def _setup_shipped(shop, yto_outlet):
    return make_order(shop, order_no="O-1001", status=Order.Status.SHIPPED, lines=[{"paid_amount": "129.00"}])


def _setup_partly_refunded_line(shop, yto_outlet):
    order = make_order(shop, order_no="O-1001", status=Order.Status.SHIPPED, lines=[{"paid_amount": "129.00"}])
    refund_line(order, "1", "29.00", "k1")
    return order


@pytest.mark.parametrize(
    "setup, data, code",
    [
        (_setup_already_exists, {}, "already_exists"),
        (_setup_pending_payment, {}, "order_status"),
        (_setup_closed, {}, "order_status"),
        (_setup_preparing, {"amount": "100.00"}, "order_status"),
        (_setup_preparing, {"type": "return_refund", "reason": "quality"}, "order_status"),
        (_setup_five_applications, {}, "application_limit"),
        (_setup_fully_refunded, {"amount": "1.00"}, "nothing_refundable"),
        (_setup_repeat_not_domestic, {}, "not_domestic_physical"),
        (_setup_open_after_sale, {}, "open_after_sale_exists"),
        (_setup_shipped, {"amount": "129.01"}, "amount_exceeds_refundable"),
        (_setup_partly_refunded_line, {"amount": "100.01"}, "amount_exceeds_refundable"),
    ],
)
def test_each_rule_refusal_is_a_409_with_its_code_and_changes_nothing(events, shop, yto_outlet, setup, data, code):
    setup(shop, yto_outlet)
    before = snapshot()

    response = events.send("aftersale.applied", applied(**data), event_id="evt-refused")

    assert response.status_code == 409
    assert response.json()["code"] == code
    assert response.json()["error"]
    assert snapshot() == before


def test_a_refused_application_may_be_sent_again_under_the_same_id_once_corrected(events, shipped_order):
    first = events.send("aftersale.applied", applied(amount="129.01"), event_id="evt-1")
    second = events.send("aftersale.applied", applied(amount="129.00"), event_id="evt-1")

    assert (first.status_code, first.json()["code"]) == (409, "amount_exceeds_refundable")
    assert (second.status_code, second.json()["result"]) == (200, "applied")


def test_an_existing_after_sale_number_wins_over_the_other_rules(events, shop):
    _setup_already_exists(shop, None)
    Order.objects.filter(order_no="O-1001").update(status=Order.Status.PENDING_PAYMENT)

    response = events.send("aftersale.applied", applied(amount="999.00"))

    assert (response.status_code, response.json()["code"]) == (409, "already_exists")


# --- 400 and 404 ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "event_type, data, field",
    [
        ("aftersale.applied", applied(amount=129.0), "data.amount"),
        ("aftersale.applied", applied(amount="129.001"), "data.amount"),
        ("aftersale.applied", applied(amount="0.00"), "data.amount"),
        ("aftersale.applied", applied(amount="-1.00"), "data.amount"),
        ("aftersale.applied", applied(type="exchange"), "data.type"),
        ("aftersale.applied", applied(reason="bored"), "data.reason"),
        ("aftersale.applied", {k: v for k, v in applied().items() if k != "after_sale_no"}, "data.after_sale_no"),
        ("aftersale.applied", applied(line_no=1), "data.line_no"),
        ("aftersale.applied", applied(after_sale_no="A" * 65), "data.after_sale_no"),
        # shape comes before references: an unknown order with a bad amount is still a 400
        ("aftersale.applied", applied(order_no="O-404", amount=1), "data.amount"),
        ("aftersale.cancelled", {}, "data.after_sale_no"),
        ("aftersale.return_shipped", {"after_sale_no": "AS-5001", "courier": "SF"}, "data.tracking_no"),
        ("aftersale.return_shipped", {"after_sale_no": "AS-5001", "tracking_no": "SF1"}, "data.courier"),
    ],
)
def test_malformed_after_sale_events_are_400_with_the_field_path(events, shipped_order, event_type, data, field):
    before = snapshot()

    response = events.send(event_type, data)

    assert response.status_code == 400
    assert response.json()["field"] == field
    assert snapshot() == before


@pytest.mark.parametrize(
    "event_type, data",
    [
        ("aftersale.applied", applied(order_no="O-404")),
        ("aftersale.applied", applied(line_no="9")),
        ("aftersale.cancelled", {"after_sale_no": "AS-404"}),
        ("aftersale.return_shipped", {"after_sale_no": "AS-404", "tracking_no": "SF1", "courier": "SF"}),
    ],
)
def test_unknown_references_are_404_and_change_nothing(events, shipped_order, event_type, data):
    before = snapshot()

    response = events.send(event_type, data)

    assert response.status_code == 404
    assert set(response.json()) == {"error"}
    assert snapshot() == before


def test_an_unknown_order_is_404_even_when_the_after_sale_number_exists(events, shipped_order):
    events.send("aftersale.applied", applied())

    response = events.send("aftersale.applied", applied(order_no="O-404"))

    assert response.status_code == 404


# --- duplicates -------------------------------------------------------------------------------------
def test_a_duplicate_application_answers_the_first_outcome_and_changes_nothing(events, shipped_order):
    first = events.send("aftersale.applied", applied(), event_id="evt-1")
    before = snapshot()

    again = events.send("aftersale.applied", applied(after_sale_no="AS-9999", amount="1.00"), event_id="evt-1")

    assert again.status_code == 200
    assert again.json() == {**first.json(), "result": "duplicate"}
    assert snapshot() == before


def test_a_duplicate_parcel_status_does_not_refund_twice(events, shipped_order):
    Buyer.objects.filter(pk=shipped_order.buyer_id).update(trusted=True)
    events.send("aftersale.applied", applied())
    first = events.send("parcel.status", status_event("refused", "2026-11-23T09:00:00+08:00"), event_id="evt-r")

    again = events.send("parcel.status", status_event("refused", "2026-11-23T09:00:00+08:00"), event_id="evt-r")

    assert again.json() == {**first.json(), "result": "duplicate"}
    assert RefundEntry.objects.count() == 1


# --- parcel.status driving after-sales --------------------------------------------------------------
@pytest.mark.parametrize("status", ["refused", "intercepted", "returning", "signed"])
def test_each_resolution_of_the_parcel_starts_the_48_hour_rule(events, shipped_order, status):
    events.send("aftersale.applied", applied())  # deadline 11-29 10:15

    response = events.send("parcel.status", status_event(status, "2026-11-23T09:00:00+08:00"))

    assert response.status_code == 200
    body = response.json()
    assert body["parcel"] == {"tracking_no": "YT1234567890", "status": status}
    assert body["after_sales"] == [
        {**after_sale_json_of("AS-5001"), "status": "refund_after_refusal", "deadline": "2026-11-25T09:00:00+08:00"}
    ]
    log = AfterSale.objects.get().logs.get(action="deadline")
    assert (log.actor, log.at.isoformat()) == ("platform", "2026-11-23T01:00:00+00:00")
    assert RefundEntry.objects.count() == 0


@pytest.mark.parametrize("status", ["intercepted", "returning", "signed"])
def test_only_a_refusal_refunds_a_trusted_buyer_at_once(events, shipped_order, status):
    Buyer.objects.filter(pk=shipped_order.buyer_id).update(trusted=True)
    events.send("aftersale.applied", applied())

    body = events.send("parcel.status", status_event(status, "2026-11-23T09:00:00+08:00")).json()

    assert [(a["status"], a["deadline"]) for a in body["after_sales"]] == [
        ("refund_after_refusal", "2026-11-25T09:00:00+08:00")
    ]
    assert RefundEntry.objects.count() == 0


def test_trusted_buyers_refusal_refund_is_in_the_ledger_history_and_notified(events, shipped_order):
    Buyer.objects.filter(pk=shipped_order.buyer_id).update(trusted=True)
    events.send("aftersale.applied", applied())

    events.send("parcel.status", status_event("refused", "2026-11-23T09:00:00+08:00"))

    after_sale = AfterSale.objects.get()
    assert (after_sale.status, after_sale.refunded_amount, after_sale.deadline) == ("refunded", Decimal("129.00"), None)
    assert after_sale.closed_at.isoformat() == "2026-11-23T01:00:00+00:00"
    assert shipped_order.lines.get().refunded_amount == Decimal("129.00")
    assert list(
        after_sale.logs.filter(action__in=["refund", "status"]).values_list("action", "actor", "to_status")
    ) == [
        ("status", "platform", "refund_after_refusal"),
        ("refund", "platform", ""),
        ("status", "platform", "refunded"),
    ]
    assert list(BuyerNotification.objects.order_by("pk").values_list("kind", flat=True)) == [
        "refuse_parcel",
        "refunded",
    ]
    assert BuyerNotification.objects.get(kind="refunded").payload["amount"] == "129.00"


def test_sign_for_with_48_hours_and_a_second_left_brings_the_deadline_to_48_hours(events, shipped_order):
    events.send("aftersale.applied", applied())  # deadline 11-29 10:15:00

    body = events.send("parcel.status", status_event("signed", "2026-11-27T10:14:59+08:00")).json()

    assert [a["deadline"] for a in body["after_sales"]] == ["2026-11-29T10:14:59+08:00"]


def test_sign_for_lets_the_merchant_reject_pointing_to_return_and_refund(events, shipped_order, shop, merchant):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from aftersales import services

    events.send("aftersale.applied", applied())
    after_sale = AfterSale.objects.get()
    evidence = [SimpleUploadedFile("sign.png", PNG, content_type="image/png")]
    with pytest.raises(services.DomainError):
        services.reject_after_sale(
            after_sale_id=after_sale.pk, shop=shop, user=merchant, reason="goods_signed", note="", evidence=evidence
        )

    events.send("parcel.status", status_event("signed", "2026-11-23T09:00:00+08:00"))
    services.reject_after_sale(
        after_sale_id=after_sale.pk, shop=shop, user=merchant, reason="goods_signed", note="已签收", evidence=evidence
    )

    after_sale.refresh_from_db()
    assert (after_sale.status, after_sale.reject_reason) == ("rejected", "goods_signed")


@pytest.mark.parametrize("status", ["exception", "lost", "damaged", "out_for_delivery", "in_transit"])
def test_other_parcel_statuses_change_no_after_sale(events, shipped_order, status):
    events.send("aftersale.applied", applied())
    before = AfterSale.objects.values_list("status", "deadline", "version").get()

    body = events.send("parcel.status", status_event(status, "2026-11-23T09:00:00+08:00")).json()

    assert body["after_sales"] == []
    assert AfterSale.objects.values_list("status", "deadline", "version").get() == before


def test_a_repeated_resolution_does_not_move_the_deadline_again(events, shipped_order):
    events.send("aftersale.applied", applied())
    events.send("parcel.status", status_event("refused", "2026-11-23T09:00:00+08:00"))

    returning = events.send("parcel.status", status_event("returning", "2026-11-24T09:00:00+08:00")).json()
    returned = events.send("parcel.status", status_event("returned", "2026-11-24T20:00:00+08:00")).json()

    assert (returning["after_sales"], returned["after_sales"]) == ([], [])
    assert returned["parcel"]["status"] == "returned"
    assert AfterSale.objects.get().deadline.isoformat() == "2026-11-25T01:00:00+00:00"


def test_the_outcome_lists_exactly_the_after_sales_whose_deadline_or_status_changed(events, shop, yto_outlet):
    order = make_order(
        shop,
        order_no="O-1001",
        status=Order.Status.SHIPPED,
        lines=[{"line_no": str(i), "paid_amount": "100.00"} for i in range(1, 5)],
    )
    parcel = make_parcel(order, outlet=yto_outlet, tracking_no="YT1234567890")
    parcel.lines.set(order.lines.filter(line_no__in=["1", "2", "3"]))
    make_parcel(order, outlet=yto_outlet, tracking_no="YT0000000002").lines.set(order.lines.filter(line_no="4"))
    events.send(
        "aftersale.applied", applied("AS-1", line_no="1", amount="100.00"), occurred_at="2026-11-22T10:15:00+08:00"
    )
    events.send(
        "aftersale.applied", applied("AS-2", line_no="2", amount="100.00"), occurred_at="2026-11-21T09:00:00+08:00"
    )
    events.send(
        "aftersale.applied", applied("AS-3", line_no="3", type="return_refund", reason="quality", amount="100.00")
    )
    events.send("aftersale.applied", applied("AS-4", line_no="4", amount="100.00"))
    before = {a.after_sale_no: (a.status, a.deadline) for a in AfterSale.objects.all()}

    # 11-26 10:00: AS-1 (deadline 11-29 10:15) gets 11-28 10:00; AS-2 (11-28 09:00) has less left and stays.
    body = events.send("parcel.status", status_event("refused", "2026-11-26T10:00:00+08:00")).json()

    assert body["after_sales"] == [after_sale_json_of("AS-1")]
    assert body["after_sales"][0]["deadline"] == "2026-11-28T10:00:00+08:00"
    after = {a.after_sale_no: (a.status, a.deadline) for a in AfterSale.objects.all()}
    assert {no: after[no] for no in ("AS-2", "AS-3", "AS-4")} == {no: before[no] for no in ("AS-2", "AS-3", "AS-4")}


def test_the_outcome_lists_after_sales_closed_by_the_event_too(events, shop, yto_outlet):
    buyer = Buyer.objects.create(external_id="b-trusted", nickname="老顾客", trusted=True)
    order = make_order(
        shop,
        order_no="O-1001",
        status=Order.Status.SHIPPED,
        buyer=buyer,
        lines=[{"line_no": "1", "paid_amount": "100.00"}, {"line_no": "2", "paid_amount": "50.00"}],
    )
    make_parcel(order, outlet=yto_outlet, tracking_no="YT1234567890")
    events.send("aftersale.applied", applied("AS-1", line_no="1", amount="100.00"))
    events.send("aftersale.applied", applied("AS-2", line_no="2", amount="20.00"))

    body = events.send("parcel.status", status_event("refused", "2026-11-23T09:00:00+08:00")).json()

    assert [(a["after_sale_no"], a["status"], a["refunded_amount"]) for a in body["after_sales"]] == [
        ("AS-1", "refunded", "100.00"),
        ("AS-2", "refunded", "20.00"),
    ]
    order.refresh_from_db()
    assert order.refunded_amount == Decimal("120.00")


def test_an_older_parcel_event_changes_no_after_sale(events, shipped_order):
    Buyer.objects.filter(pk=shipped_order.buyer_id).update(trusted=True)
    events.send("aftersale.applied", applied())
    events.send("parcel.status", status_event("out_for_delivery", "2026-11-23T09:00:00+08:00"))
    before = snapshot()

    response = events.send("parcel.status", status_event("refused", "2026-11-23T08:59:59+08:00"), event_id="evt-old")

    assert response.status_code == 200
    assert response.json() == {
        "result": "applied",
        "parcel": {"tracking_no": "YT1234567890", "status": "out_for_delivery"},
        "after_sales": [],
    }
    after = snapshot()
    assert after["events"] == [*before["events"], "evt-old"]
    assert {k: v for k, v in after.items() if k != "events"} == {k: v for k, v in before.items() if k != "events"}


@pytest.mark.parametrize(
    "change, why",
    [
        ("cross_border", "not for cross-border or Hainan duty-free shops"),
        ("hainan", "not for cross-border or Hainan duty-free shops"),
        ("courier", "the courier is not supported"),
        ("category", "the category is not supported"),
        ("signed", "the parcel is not normally in transit"),
    ],
)
def test_when_refund_after_refusal_is_not_agreed_the_merchant_decides_and_the_reason_is_kept(
    events, shipped_order, change, why
):
    from django.utils import translation

    from shop.models import Courier, OrderLine, Shop

    if change == "cross_border":
        Shop.objects.update(cross_border=True)
    elif change == "hainan":
        Shop.objects.update(hainan_duty_free=True)
    elif change == "courier":
        Courier.objects.update(supports_refund_after_refusal=False)
    elif change == "category":
        OrderLine.objects.update(category="fresh")
    else:
        Parcel.objects.update(status=Parcel.Status.SIGNED)

    with translation.override("en"):
        body = events.send("aftersale.applied", applied()).json()

    assert (body["after_sale"]["status"], body["after_sale"]["deadline"]) == (
        "pending_merchant",
        "2026-11-24T10:15:00+08:00",
    )
    log = AfterSale.objects.get().logs.get(action="status")
    assert log.message == f"Refund after refusal not available: {why}"
    assert BuyerNotification.objects.count() == 0


def test_a_line_not_yet_shipped_of_a_partially_shipped_order_waits_for_the_merchant(events, shop, yto_outlet):
    order = make_order(
        shop,
        order_no="O-1001",
        status=Order.Status.PARTIALLY_SHIPPED,
        lines=[{"line_no": "1", "paid_amount": "129.00"}, {"line_no": "2", "paid_amount": "20.00"}],
    )
    make_parcel(order, outlet=yto_outlet, tracking_no="YT1234567890").lines.set(order.lines.filter(line_no="1"))

    body = events.send("aftersale.applied", applied(line_no="2", amount="20.00")).json()

    assert body["after_sale"]["status"] == "pending_merchant"
    assert AfterSale.objects.get().parcel is None
