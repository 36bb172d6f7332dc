"""The read endpoints: exact objects of the contract, and another shop's objects are 404."""

from datetime import timedelta
from decimal import Decimal

import pytest

from aftersales import ledger
from aftersales.models import Actor
from interception.models import FeeCharge, ServiceOrder
from settlement.models import Statement, StatementLine
from shop.models import Parcel
from tests.shop.factories import at, make_order

pytestmark = pytest.mark.django_db


def test_an_after_sale_has_every_field_of_the_contract(api, after_sale):
    after_sale.buyer_note, after_sale.flag, after_sale.remark = "一直没到", "blue", "11-22 已拦截"
    after_sale.save()
    body = api.get("/after-sales/AS-5001").json()
    assert body | {"updated_at": None} == {
        "after_sale_no": "AS-5001",
        "order_no": "O-1001",
        "line_no": "1",
        "type": "refund_only",
        "status": "pending_merchant",
        "reason": "quality",
        "note": "一直没到",
        "amount": "100.00",
        "refunded_amount": "0.00",
        "sequence": 1,
        "multi_refund": False,
        "deadline": "2026-11-24T10:15:00+08:00",
        "flag": "blue",
        "remark": "11-22 已拦截",
        "version": 1,
        "created_at": "2026-11-22T10:15:00+08:00",
        "updated_at": None,
        "buyer": {"id": after_sale.buyer.external_id, "nickname": "小王"},
        "parcel": {"tracking_no": "YT1234567890", "courier": "YTO", "status": "in_transit"},
        "refunds": [],
    }
    assert body["updated_at"].endswith("+08:00")


def test_an_after_sale_lists_its_refunds_oldest_first(api, after_sale):
    for amount, key in (("10.00", "a"), ("20.00", "b")):
        entry = ledger.record_refund(
            line=after_sale.line,
            after_sale=after_sale,
            kind="refund_only",
            amount=Decimal(amount),
            actor=Actor.MERCHANT,
            reason="部分退款",
            idempotency_key=key,
        )
    refunds = api.get("/after-sales/AS-5001").json()["refunds"]
    assert [(r["amount"], r["after_sale_no"], r["kind"], r["actor"]) for r in refunds] == [
        ("10.00", "AS-5001", "refund_only", "merchant"),
        ("20.00", "AS-5001", "refund_only", "merchant"),
    ]
    assert refunds[1]["id"] == entry.pk


def test_an_after_sale_before_shipment_has_no_parcel(api, shop):
    from tests.aftersales.factories import make_after_sale

    make_after_sale(make_order(shop, order_no="O-2"), after_sale_no="AS-NOPARCEL")
    assert api.get("/after-sales/AS-NOPARCEL").json()["parcel"] is None


def test_the_order_refund_history_has_every_refund_and_the_totals(api, after_sale, shop):
    order = after_sale.order
    ledger.record_refund(
        line=after_sale.line, after_sale=None, kind="small_payment", amount=Decimal("5.00"),
        actor=Actor.MERCHANT, reason="补偿", idempotency_key="sp-1",
    )  # fmt: skip
    ledger.record_refund(
        line=after_sale.line, after_sale=after_sale, kind="refund_only", amount=Decimal("30.00"),
        actor=Actor.INTERCEPTION, reason="拦截成功", idempotency_key="r-1",
    )  # fmt: skip
    body = api.get(f"/orders/{order.order_no}/refunds").json()
    assert {key: body[key] for key in ("order_no", "paid", "refunded", "refundable", "lines")} == {
        "order_no": "O-1001",
        "paid": "100.00",
        "refunded": "35.00",
        "refundable": "65.00",
        "lines": [{"line_no": "1", "paid": "100.00", "refunded": "35.00", "refundable": "65.00"}],
    }
    assert [(r["kind"], r["amount"], r["after_sale_no"], r["actor"]) for r in body["refunds"]] == [
        ("small_payment", "5.00", None, "merchant"),
        ("refund_only", "30.00", "AS-5001", "interception"),
    ]


def test_another_shops_order_is_404(other_api, after_sale):
    assert other_api.get("/orders/O-1001/refunds").status_code == 404


def _service_order(after_sale, **kwargs) -> ServiceOrder:
    parcel = after_sale.parcel
    return ServiceOrder.objects.create(
        shop=after_sale.shop,
        after_sale=after_sale,
        parcel=parcel,
        courier=parcel.courier,
        outlet=parcel.outlet,
        mode=kwargs.pop("mode", "online"),
        fee=kwargs.pop("fee", "3.00"),
        via="detail",
        **kwargs,
    )


def test_a_service_order_has_every_field_of_the_contract(api, after_sale):
    service_order = _service_order(after_sale, status="succeeded", result_at=at("2026-11-22 11:00"))
    body = api.get(f"/service-orders/{service_order.number}").json()
    assert body | {"created_at": None, "updated_at": None} == {
        "service_order_no": service_order.number,
        "after_sale_no": "AS-5001",
        "order_no": "O-1001",
        "tracking_no": "YT1234567890",
        "courier": "YTO",
        "outlet": "YTO-SH-001",
        "mode": "online",
        "fee": "3.00",
        "status": "succeeded",
        "failure_reason": "",
        "created_at": None,
        "finished_at": "2026-11-22T11:00:00+08:00",
        "updated_at": None,
    }


def test_a_pending_service_order_is_not_finished(api, after_sale):
    service_order = _service_order(after_sale, status="processing")
    assert api.get(f"/service-orders/{service_order.number}").json()["finished_at"] is None


def test_another_shops_service_order_is_404(other_api, after_sale):
    service_order = _service_order(after_sale)
    assert other_api.get(f"/service-orders/{service_order.number}").status_code == 404
    assert other_api.get("/service-orders/SO-nonsense").status_code == 404


def _statement(after_sale, *, month, lines=3) -> Statement:
    statement = Statement.objects.create(
        shop=after_sale.shop, outlet=after_sale.parcel.outlet, month=month, status="issued", line_count=lines,
        total=Decimal("4.50") * lines,
    )  # fmt: skip
    for i in range(lines):
        parcel = Parcel.objects.create(
            order=after_sale.order, courier=after_sale.parcel.courier, outlet=after_sale.parcel.outlet,
            tracking_no=f"YT-{month:%m}-{i}", status="returned", status_at=at("2026-11-01 00:00"),
            shipped_at=at("2026-11-01 00:00"),
        )  # fmt: skip
        service_order = ServiceOrder.objects.create(
            shop=after_sale.shop, after_sale=after_sale, parcel=parcel, courier=parcel.courier,
            outlet=parcel.outlet, mode="offline", fee="4.50", via="detail", status="returned",
        )  # fmt: skip
        succeeded = at("2026-11-02 10:00") + timedelta(hours=i)
        charge = FeeCharge.objects.create(
            shop=after_sale.shop, service_order=service_order, courier=service_order.courier,
            outlet=service_order.outlet, mode="offline", amount="4.50", charged_at=succeeded,
        )  # fmt: skip
        StatementLine.objects.create(
            statement=statement, fee_charge=charge, service_order=service_order,
            tracking_no=service_order.parcel.tracking_no, amount="4.50", succeeded_at=succeeded,
        )  # fmt: skip
    return statement


def test_statements_newest_first_with_their_totals(api, after_sale):
    from datetime import date

    _statement(after_sale, month=date(2026, 9, 1), lines=1)
    october = _statement(after_sale, month=date(2026, 10, 1), lines=2)
    body = api.get("/statements").json()
    assert body["data"][0] == {
        "id": october.pk,
        "outlet": "YTO-SH-001",
        "month": "2026-10",
        "status": "issued",
        "total": "9.00",
        "lines": 2,
    }
    assert [s["month"] for s in body["data"]] == ["2026-10", "2026-09"]


def test_statement_lines_page_by_cursor_in_the_order_they_happened(api, after_sale):
    from datetime import date

    statement = _statement(after_sale, month=date(2026, 11, 1), lines=3)
    first = api.get(f"/statements/{statement.pk}/lines", {"limit": 2}).json()
    assert [line["succeeded_at"] for line in first["data"]] == [
        "2026-11-02T10:00:00+08:00",
        "2026-11-02T11:00:00+08:00",
    ]
    assert first["has_more"] is True
    assert first["data"][0] == {
        "service_order_no": first["data"][0]["service_order_no"],
        "tracking_no": "YT-11-0",
        "fee": "4.50",
        "succeeded_at": "2026-11-02T10:00:00+08:00",
    }
    second = api.get(f"/statements/{statement.pk}/lines", {"limit": 2, "cursor": first["next_cursor"]}).json()
    assert [line["tracking_no"] for line in second["data"]] == ["YT-11-2"]
    assert second["has_more"] is False
    third = api.get(f"/statements/{statement.pk}/lines", {"cursor": second["next_cursor"]}).json()
    assert third == {"data": [], "next_cursor": second["next_cursor"], "has_more": False}


def test_a_malformed_cursor_is_422_on_the_cursor(api, after_sale):
    from datetime import date

    statement = _statement(after_sale, month=date(2026, 11, 1), lines=1)
    response = api.get(f"/statements/{statement.pk}/lines", {"cursor": "not-a-cursor"})
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "cursor"


def test_another_shops_statement_is_404(other_api, after_sale):
    from datetime import date

    statement = _statement(after_sale, month=date(2026, 11, 1), lines=1)
    assert other_api.get(f"/statements/{statement.pk}/lines").status_code == 404
    assert other_api.get("/statements").json() == {"data": []}
