"""The interception story on the after-sale detail: every service order of the after-sale with its
status, fee (only where charged), failure reason and a link, and the history rows interception wrote
(launch, result, remark, flag), attributed to it."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from aftersales.models import AfterSale, AfterSaleLog
from interception import services
from interception.models import ServiceOrder
from tests.interception.factories import make_refund_only_in_transit

pytestmark = pytest.mark.django_db


@pytest.fixture
def after_sale(shop, yto_outlet):
    made = make_refund_only_in_transit(shop, yto_outlet, order_no="O-1", amount="129.00")
    AfterSale.objects.filter(pk=made.pk).update(flag=AfterSale.Flag.RED)
    return made


def launch(shop, merchant, after_sale) -> ServiceOrder:
    created, skipped = services.launch_interceptions(
        shop=shop, user=merchant, after_sale_ids=[after_sale.pk], via="detail", enqueue=False
    )
    assert skipped == []
    return created[0]


def detail(client, merchant, after_sale):
    client.force_login(merchant)
    return client.get(reverse("aftersales:after-sale-detail", kwargs={"after_sale_no": after_sale.after_sale_no}))


def history(after_sale):
    return list(
        AfterSaleLog.objects.filter(after_sale=after_sale, actor="interception")
        .order_by("at", "id")
        .values_list("action", "message")
    )


def test_a_failed_interception_is_on_the_detail_with_its_reason_no_fee_and_a_link(client, shop, merchant, after_sale):
    service_order = launch(shop, merchant, after_sale)
    services.apply_result(
        service_order_id=service_order.pk,
        status="failed",
        reason="派送员已出发，拦截失败",
        occurred_at=timezone.now() + timedelta(minutes=1),
    )

    response = detail(client, merchant, after_sale)

    html = response.content.decode()
    section = html[html.index('id="interception-story"') :]
    row = section[section.index(f'data-service-order="{service_order.number}"') :]
    assert 'data-status="failed"' in row[:80]
    assert "派送员已出发，拦截失败" in row
    assert 'title="Not charged: fees are charged on success only">—<' in row
    query = reverse("interception:service-orders") + "?q=AS-O-1"
    assert f'<a href="{query}">{service_order.number}</a>' in row
    assert history(after_sale) == [
        ("interception", f"Service order {service_order.number} launched via after-sale detail"),
        ("interception", f"Service order {service_order.number}: failed (派送员已出发，拦截失败)"),
    ]
    assert AfterSale.objects.get(pk=after_sale.pk).flag == AfterSale.Flag.RED  # a failure changes no flag


def test_a_success_shows_its_fee_and_the_history_has_launch_result_remark_and_flag_change(
    client, shop, merchant, after_sale
):
    service_order = launch(shop, merchant, after_sale)
    result_at = timezone.now() + timedelta(minutes=1)
    services.apply_result(service_order_id=service_order.pk, status="succeeded", occurred_at=result_at)

    response = detail(client, merchant, after_sale)

    label = f"{timezone.localtime(result_at):%m-%d} intercepted"
    assert history(after_sale) == [
        ("interception", f"Service order {service_order.number} launched via after-sale detail"),
        ("interception", f"Service order {service_order.number}: succeeded"),
        ("remark", label),
        ("flag", "red → blue"),
        ("refund", "129.00 yuan refunded"),
        ("status", "The parcel was intercepted"),
    ]
    html = response.content.decode()
    row = html[html.index(f'data-service-order="{service_order.number}"') :]
    assert '<td class="num fee">3.00</td>' in row
    history_html = html[html.index('id="history"') :]
    assert history_html.count('data-actor="interception"') == len(history(after_sale))
    assert "courier interception" in history_html


def test_the_history_names_the_merchant_who_launched_and_the_story_lists_a_retry_too(
    client, shop, merchant, after_sale
):
    first = launch(shop, merchant, after_sale)
    services.apply_result(
        service_order_id=first.pk,
        status="failed",
        reason="网点未响应",
        occurred_at=timezone.now() + timedelta(minutes=1),
    )
    second = launch(shop, merchant, after_sale)

    response = detail(client, merchant, after_sale)

    rows = [row["order"].number for row in response.context["extension_sections"][0].context["rows"]]
    assert rows == [second.number, first.number]
    launched = AfterSaleLog.objects.filter(after_sale=after_sale, action="interception", message__contains="launched")
    assert [row.user_id for row in launched] == [merchant.pk, merchant.pk]


def test_an_after_sale_never_intercepted_has_no_interception_card(client, merchant, after_sale):
    response = detail(client, merchant, after_sale)

    assert response.status_code == 200
    assert response.context["extension_sections"] == []
    assert 'id="interception-story"' not in response.content.decode()


def test_in_chinese_the_history_says_the_interception_did_it(client, shop, merchant, after_sale):
    launch(shop, merchant, after_sale)
    client.force_login(merchant)

    response = client.get(
        reverse("aftersales:after-sale-detail", kwargs={"after_sale_no": after_sale.after_sale_no}),
        headers={"accept-language": "zh-hans"},
    )

    html = response.content.decode()
    history_html = html[html.index('id="history"') :]
    assert "快递拦截" in history_html
