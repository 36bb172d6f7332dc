"""The batch page at scale: paged, a "failures only" view, no fee on failures, a way on to what is urgent."""

import re

import pytest
from django.urls import reverse

from interception.models import InterceptionBatch, ServiceOrder
from interception.views.launch import BATCH_PAGE_SIZE
from tests.interception.factories import make_service_order


@pytest.fixture
def batch(shop, merchant, yto_outlet):
    """A batch of BATCH_PAGE_SIZE + 5 service orders: the first 3 failed, the others succeeded."""
    batch = InterceptionBatch.objects.create(shop=shop, created_by=merchant, via="bulk")
    for n in range(BATCH_PAGE_SIZE + 5):
        failed = n < 3
        order = make_service_order(
            shop, yto_outlet, status="failed" if failed else "succeeded", failure_reason="已签收" if failed else ""
        )
        ServiceOrder.objects.filter(pk=order.pk).update(batch=batch)
    return batch


def rows(response) -> list[str]:
    html = response.content.decode()
    body = html.split('id="batch-orders"')[1].split("</tbody>")[0]
    return re.findall(r'<tr data-order="\d+">.*?</tr>', body, flags=re.S)


def test_the_batch_page_shows_one_page_of_rows_and_counts_the_whole_batch(client, merchant, batch):
    client.force_login(merchant)

    first = client.get(reverse("interception:batch", kwargs={"pk": batch.pk}))
    second = client.get(reverse("interception:batch", kwargs={"pk": batch.pk}), {"page": 2})

    assert len(rows(first)) == BATCH_PAGE_SIZE
    assert len(rows(second)) == 5
    assert first.context["progress"]["total"] == BATCH_PAGE_SIZE + 5
    assert first.context["progress"]["failed"] == 3
    assert 'id="next-page"' in first.content.decode()


def test_failures_only_lists_the_failed_service_orders_with_their_reason(client, merchant, batch):
    client.force_login(merchant)

    response = client.get(reverse("interception:batch", kwargs={"pk": batch.pk}), {"show": "failed"})

    listed = rows(response)
    assert len(listed) == 3
    assert all("已签收" in row for row in listed)
    assert response.context["progress"]["total"] == BATCH_PAGE_SIZE + 5  # the counts stay the batch's


def test_a_failed_interception_shows_no_fee_on_the_batch_page_and_a_success_its_fee(client, merchant, batch):
    client.force_login(merchant)

    failed = rows(client.get(reverse("interception:batch", kwargs={"pk": batch.pk}), {"show": "failed"}))
    succeeded = rows(client.get(reverse("interception:batch", kwargs={"pk": batch.pk}), {"page": 2}))

    fee_cell = re.compile(r'<td class="num fee">([^<]*)</td>')
    assert {fee_cell.search(row).group(1) for row in failed} == {"—"}
    assert {fee_cell.search(row).group(1) for row in succeeded} == {"3.00"}


def test_the_batch_page_leads_on_to_after_sales_about_to_time_out_and_the_failed_service_orders(
    client, merchant, batch
):
    client.force_login(merchant)

    html = client.get(reverse("interception:batch", kwargs={"pk": batch.pk})).content.decode()

    assert 'href="/aftersales/?status=open&amp;deadline_within=12" id="to-about-to-time-out"' in html
    assert 'href="/interception/service-orders/?status=failed" id="to-failed-service-orders"' in html


def test_a_failed_interception_shows_no_fee_on_the_service_order_query(client, merchant, shop, yto_outlet):
    make_service_order(shop, yto_outlet, status="failed", failure_reason="已签收", tracking_no="YTFAIL0001")
    make_service_order(shop, yto_outlet, status="succeeded", tracking_no="YTOKAY0001")
    client.force_login(merchant)

    html = client.get(reverse("interception:service-orders")).content.decode()

    row_of = {
        no: re.search(rf"<tr[^>]*>(?:(?!</tr>).)*{no}.*?</tr>", html, flags=re.S).group(0)
        for no in ("YTFAIL0001", "YTOKAY0001")
    }
    assert ">—</td>" in row_of["YTFAIL0001"] and "3.00" not in row_of["YTFAIL0001"]
    assert ">3.00</td>" in row_of["YTOKAY0001"]
