"""The after-sales part of the events API: aftersale.* and parcel.status driving after-sales."""

from decimal import Decimal

import pytest

from aftersales.models import AfterSale, AfterSaleLog, BuyerNotification, RefundEntry
from shop.models import Buyer, Order, Parcel
from tests.conftest import make_order, make_parcel

APPLIED_AT = "2026-11-22T10:15:00+08:00"


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
