"""Launching interceptions from the pages: detail, IM card, bulk preview, paste, batch progress."""

import json
from decimal import Decimal

import pytest
from django.urls import reverse

from aftersales.models import AfterSale, RefundEntry
from interception.models import AssistantRule, FeeCharge, InterceptionBatch, ServiceOrder
from shop.models import Parcel
from tests.interception.factories import make_service_order
from tests.shop.factories import at, make_courier, make_outlet


@pytest.fixture
def logged_in(client, merchant):
    client.force_login(merchant)
    return client


def test_intercept_page_shows_fee_and_precheck_for_each_parcel(logged_in, refund_only_in_transit):
    after_sale = refund_only_in_transit()

    response = logged_in.get(reverse("interception:intercept", kwargs={"after_sale_no": after_sale.after_sale_no}))

    html = response.content.decode()
    assert response.status_code == 200
    assert "YTO-1001" in html or after_sale.parcel.tracking_no in html
    assert response.context["total_count"] == 1
    assert response.context["total_fee"] == Decimal("3.00")


def test_launch_from_detail_creates_a_batch_and_the_result_arrives(
    logged_in, refund_only_in_transit, django_capture_on_commit_callbacks
):
    after_sale = refund_only_in_transit()

    with django_capture_on_commit_callbacks(execute=True):
        response = logged_in.post(reverse("interception:launch"), {"via": "detail", "after_sale": [after_sale.pk]})

    batch = InterceptionBatch.objects.get()
    assert response["Location"] == reverse("interception:batch", kwargs={"pk": batch.pk})
    status = logged_in.get(reverse("interception:batch-status", kwargs={"pk": batch.pk})).json()
    assert status["progress"] == {
        "total": 1,
        "done": 1,
        "succeeded": 1,
        "failed": 0,
        "pending": 0,
        "skipped": 0,
        "finished": True,
    }
    assert ServiceOrder.objects.get().via == "detail"
    assert AfterSale.objects.get().status == "refunded"


def test_bulk_preview_groups_by_courier_and_mode_and_lists_refusals(logged_in, refund_only_in_transit, shop):
    jt_outlet = make_outlet(make_courier("JT", name="极兔"), code="JT-SH-001")
    a = refund_only_in_transit("O-1")
    b = refund_only_in_transit("O-2", outlet=jt_outlet)
    signed = refund_only_in_transit("O-3", status=Parcel.Status.SIGNED)

    response = logged_in.post(reverse("interception:bulk-preview"), {"ids": [a.pk, b.pk, signed.pk]})

    assert response.status_code == 200
    groups = [(g["courier"], g["mode"], g["count"], g["fee"]) for g in response.context["groups"]]
    assert groups == [("极兔", "online", 1, Decimal("3.00")), ("圆通", "online", 1, Decimal("3.00"))]
    assert [(c.after_sale.after_sale_no, c.blocker) for c in response.context["refused"]] == [
        ("AS-O-3", "already signed")
    ]
    assert sorted(response.context["eligible_ids"]) == sorted([a.pk, b.pk])
    assert ServiceOrder.objects.count() == 0  # a preview changes nothing


def test_bulk_preview_of_all_filtered_rows_takes_the_workbench_filters(logged_in, refund_only_in_transit):
    in_transit = refund_only_in_transit("O-1")
    refund_only_in_transit("O-2", status=Parcel.Status.SIGNED)

    response = logged_in.post(
        reverse("interception:bulk-preview"), {"all_filtered": "1", "query": "logistics=in_transit"}
    )

    assert response.context["eligible_ids"] == [in_transit.pk]
    assert response.context["refused"] == []


def test_pasted_tracking_numbers_unknown_ones_are_listed_and_skipped(
    logged_in, refund_only_in_transit, django_capture_on_commit_callbacks
):
    after_sale = refund_only_in_transit("O-1")

    preview = logged_in.post(reverse("interception:paste"), {"tracking_numbers": "YTO-1\nNOPE-42, YTO-1"})

    assert preview.context["eligible_ids"] == [after_sale.pk]
    assert [s["ref"] for s in preview.context["skipped"]] == ["NOPE-42"]
    with django_capture_on_commit_callbacks(execute=True):
        logged_in.post(reverse("interception:launch"), {"via": "paste", "after_sale": [after_sale.pk]})
    batch = InterceptionBatch.objects.get()
    assert [s["ref"] for s in batch.skipped] == ["NOPE-42"]
    assert ServiceOrder.objects.get().via == "paste"


def test_im_card_shows_the_disabled_action_with_the_reason_when_signed(logged_in, refund_only_in_transit):
    after_sale = refund_only_in_transit(status=Parcel.Status.SIGNED)

    response = logged_in.get(reverse("interception:im-card", kwargs={"after_sale_no": after_sale.after_sale_no}))

    html = response.content.decode()
    assert 'disabled title="already signed"' in html


def test_retry_failed_launches_again_and_the_batch_counts_the_latest_attempt(
    logged_in, refund_only_in_transit, monkeypatch, django_capture_on_commit_callbacks
):
    after_sale = refund_only_in_transit()
    monkeypatch.setattr(
        "interception.gateway.simulated.SimulatedGateway.launch",
        lambda self, facts: __import__("interception.gateway", fromlist=["LaunchResult"]).LaunchResult(
            "failed", "network busy"
        ),
    )
    with django_capture_on_commit_callbacks(execute=True):
        logged_in.post(reverse("interception:launch"), {"via": "bulk", "after_sale": [after_sale.pk]})
    batch = InterceptionBatch.objects.get()
    assert (
        logged_in.get(reverse("interception:batch-status", kwargs={"pk": batch.pk})).json()["progress"]["failed"] == 1
    )
    monkeypatch.undo()

    with django_capture_on_commit_callbacks(execute=True):
        logged_in.post(reverse("interception:batch-retry", kwargs={"pk": batch.pk}))

    progress = logged_in.get(reverse("interception:batch-status", kwargs={"pk": batch.pk})).json()["progress"]
    assert (progress["total"], progress["succeeded"], progress["failed"]) == (1, 1, 0)
    assert ServiceOrder.objects.filter(batch=batch).count() == 2
    assert FeeCharge.objects.count() == 1


def test_assistant_rule_launches_at_once_for_a_matching_refund_only_application(
    events, shop, yto_outlet, django_capture_on_commit_callbacks
):
    from shop.models import Order
    from tests.shop.factories import make_order, make_parcel

    AssistantRule.objects.create(shop=shop, enabled=True, min_amount=Decimal("0.00"), max_amount=Decimal("500.00"))
    order = make_order(shop, order_no="O-9", status=Order.Status.SHIPPED, lines=[{"paid_amount": "88.00"}])
    make_parcel(order, outlet=yto_outlet, tracking_no="YT-9", status=Parcel.Status.IN_TRANSIT)

    with django_capture_on_commit_callbacks(execute=True):
        response = events.send(
            "aftersale.applied",
            {
                "after_sale_no": "AS-9",
                "order_no": "O-9",
                "line_no": "1",
                "type": "refund_only",
                "reason": "not_received",
                "amount": "88.00",
            },
        )

    assert response.status_code == 200
    service_order = ServiceOrder.objects.get()
    assert (service_order.via, service_order.status) == ("assistant_rule", "succeeded")
    assert RefundEntry.objects.get().actor == "interception"


def test_assistant_rule_outside_its_amount_range_does_nothing(events, shop, yto_outlet):
    from shop.models import Order
    from tests.shop.factories import make_order, make_parcel

    AssistantRule.objects.create(shop=shop, enabled=True, min_amount=Decimal("0.00"), max_amount=Decimal("50.00"))
    order = make_order(shop, order_no="O-9", status=Order.Status.SHIPPED, lines=[{"paid_amount": "88.00"}])
    make_parcel(order, outlet=yto_outlet, tracking_no="YT-9", status=Parcel.Status.IN_TRANSIT)

    events.send(
        "aftersale.applied",
        {
            "after_sale_no": "AS-9",
            "order_no": "O-9",
            "line_no": "1",
            "type": "refund_only",
            "reason": "not_received",
            "amount": "88.00",
        },
    )

    assert ServiceOrder.objects.count() == 0


def test_assistant_settings_page_saves_and_shows_a_dry_run(logged_in, shop, yto):
    response = logged_in.post(
        reverse("interception:assistant"),
        {
            "enabled": "on",
            "min_amount": "10.00",
            "max_amount": "300.00",
            "couriers": [yto.pk],
        },
    )
    assert response.status_code == 302
    rule = AssistantRule.objects.get(shop=shop)
    assert (rule.enabled, rule.min_amount, rule.max_amount) == (True, Decimal("10.00"), Decimal("300.00"))
    assert list(rule.couriers.values_list("code", flat=True)) == ["YTO"]
    page = logged_in.get(reverse("interception:assistant"))
    assert page.context["dry_run"].count == 0


def test_assistant_settings_refuse_an_inverted_range_and_change_nothing(logged_in, shop):
    response = logged_in.post(reverse("interception:assistant"), {"min_amount": "300.00", "max_amount": "10.00"})
    assert response.status_code == 200
    assert response.context["form"].errors
    assert AssistantRule.objects.get(shop=shop).max_amount == Decimal("999.99")


def test_service_order_csv_exports_exactly_the_filtered_rows(
    logged_in, refund_only_in_transit, shop, merchant, django_capture_on_commit_callbacks
):
    from interception import services

    a = refund_only_in_transit("O-1")
    b = refund_only_in_transit("O-2", status=Parcel.Status.SIGNED)
    with django_capture_on_commit_callbacks(execute=True):
        services.launch_interceptions(shop=shop, user=merchant, after_sale_ids=[a.pk, b.pk], via="bulk")

    response = logged_in.get(reverse("interception:service-orders-csv"), {"status": "succeeded"})

    lines = b"".join(response.streaming_content).decode("utf-8-sig").splitlines()
    assert len(lines) == 2
    so = ServiceOrder.objects.get()
    assert lines[1].split(",")[:10] == [
        *(so.number, "AS-O-1", "O-1", "YTO-1", "圆通", so.outlet.code),
        *("online (platform)", "3.00", "bulk", "succeeded"),
    ]
    assert json.dumps(lines)  # plain text


def test_service_order_csv_in_chinese_has_chinese_headers_and_labels_and_no_fee_on_a_failure(
    logged_in, shop, yto_outlet
):
    make_service_order(shop, yto_outlet, status="succeeded", succeeded_at=at("2026-11-22 10:01"))
    make_service_order(shop, yto_outlet, status="failed", failure_reason="已签收")

    response = logged_in.get(reverse("interception:service-orders-csv"), HTTP_ACCEPT_LANGUAGE="zh-hans")

    rows = [line.split(",") for line in b"".join(response.streaming_content).decode("utf-8-sig").splitlines()]
    assert rows[0] == [
        *("服务单", "售后单", "订单号", "运单号", "快递公司", "网点", "结算方式", "费用（元）", "发起方式", "状态"),
        *("失败原因", "退回失败原因", "发起时间", "成功时间"),
    ]
    assert sorted(row[6:11] for row in rows[1:]) == [
        ["线上（平台）", "", "售后详情", "失败", "已签收"],
        ["线上（平台）", "3.00", "售后详情", "成功", ""],
    ]


def test_service_order_query_lists_the_shops_orders_without_counting_them(
    logged_in, refund_only_in_transit, shop, merchant, django_capture_on_commit_callbacks
):
    from interception import services

    a = refund_only_in_transit("O-1")
    with django_capture_on_commit_callbacks(execute=True):
        services.launch_interceptions(shop=shop, user=merchant, after_sale_ids=[a.pk], via="bulk")

    response = logged_in.get(reverse("interception:service-orders"))

    html = response.content.decode()
    assert response.status_code == 200
    assert ServiceOrder.objects.get().number in html
    assert "Page 1" in html


@pytest.mark.parametrize(
    ("back", "expected"),
    [
        ("https://evil.example/phish", "/interception/"),
        ("/interception/after-sales/AS-1/", "/interception/after-sales/AS-1/"),
    ],
)
def test_launch_without_a_ticked_parcel_goes_back_only_to_a_page_of_this_site(logged_in, back, expected):
    response = logged_in.post(reverse("interception:launch"), {"via": "detail", "back": back})
    assert response.status_code == 302
    assert response["Location"] == expected
    assert InterceptionBatch.objects.count() == 0
