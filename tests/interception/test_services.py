from decimal import Decimal

import pytest

from aftersales.models import AfterSale, RefundEntry
from interception import services
from interception.models import FeeCharge, ServiceOrder
from interception.services import apply_for_partnerships
from shop.models import Parcel
from tests.shop.factories import at


def test_successful_interception_charges_3_yuan_refunds_the_buyer_and_marks_the_parcel(
    refund_only_in_transit, shop, merchant, django_capture_on_commit_callbacks
):
    after_sale = refund_only_in_transit()

    with django_capture_on_commit_callbacks(execute=True):
        created, skipped = services.launch_interceptions(
            shop=shop, user=merchant, after_sale_ids=[after_sale.pk], via="detail"
        )

    assert skipped == []
    service_order = ServiceOrder.objects.get()
    assert (service_order.status, service_order.mode, service_order.fee) == ("succeeded", "online", Decimal("3.00"))
    assert FeeCharge.objects.get().amount == Decimal("3.00")
    after_sale.refresh_from_db()
    assert after_sale.status == "refunded"
    assert after_sale.flag == "blue"
    assert "intercepted" in after_sale.remark or "拦截" in after_sale.remark
    refund = RefundEntry.objects.get()
    assert (refund.amount, refund.actor) == (Decimal("129.00"), "interception")
    assert Parcel.objects.get().status == "intercepted"


def test_an_active_partnership_with_the_outlet_makes_it_offline_at_the_agreed_fee(
    refund_only_in_transit, shop, merchant, yto_outlet
):
    apply_for_partnerships(
        shop=shop, user=merchant, courier_code="YTO", outlet_ids=[yto_outlet.pk], fee=Decimal("2.50")
    )
    after_sale = refund_only_in_transit()

    services.launch_interceptions(shop=shop, user=merchant, after_sale_ids=[after_sale.pk], via="bulk")

    service_order = ServiceOrder.objects.get()
    assert (service_order.mode, service_order.fee) == ("offline", Decimal("2.50"))


def test_a_signed_parcel_is_not_launched_and_says_why(refund_only_in_transit, shop, merchant):
    after_sale = refund_only_in_transit(status=Parcel.Status.SIGNED)

    created, skipped = services.launch_interceptions(
        shop=shop, user=merchant, after_sale_ids=[after_sale.pk], via="detail"
    )

    assert created == []
    assert [reason for _a, reason in skipped] == ["already signed"]
    assert ServiceOrder.objects.count() == 0


def test_running_the_task_again_after_success_neither_charges_nor_refunds_twice(
    refund_only_in_transit, shop, merchant, django_capture_on_commit_callbacks
):
    after_sale = refund_only_in_transit()
    with django_capture_on_commit_callbacks(execute=True):
        services.launch_interceptions(shop=shop, user=merchant, after_sale_ids=[after_sale.pk], via="detail")
    service_order = ServiceOrder.objects.get()

    assert services.run_service_order(service_order.pk) == "nothing to do"
    services.apply_result(service_order_id=service_order.pk, status="succeeded", occurred_at=at("2026-11-24 10:00"))

    assert FeeCharge.objects.count() == 1
    assert RefundEntry.objects.count() == 1
    assert AfterSale.objects.get().refunded_amount == Decimal("129.00")


@pytest.mark.parametrize(
    ("first", "second", "final"),
    [
        ("succeeded", "failed", "succeeded"),
        ("returned", "returning", "returned"),
        ("failed", "succeeded", "failed"),
    ],
)
def test_a_result_never_moves_a_service_order_back(
    refund_only_in_transit, shop, merchant, monkeypatch, first, second, final
):
    monkeypatch.setattr("interception.services.launch.async_task", lambda *a, **k: None)
    after_sale = refund_only_in_transit()
    services.launch_interceptions(shop=shop, user=merchant, after_sale_ids=[after_sale.pk], via="detail")
    service_order = ServiceOrder.objects.get()

    services.apply_result(service_order_id=service_order.pk, status=first, occurred_at=at("2026-11-23 10:00"))
    services.apply_result(service_order_id=service_order.pk, status=second, occurred_at=at("2026-11-23 11:00"))

    service_order.refresh_from_db()
    assert service_order.status == final
