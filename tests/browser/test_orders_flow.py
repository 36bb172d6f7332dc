import re

import pytest
from django.core.management import call_command

from shop.models import Order, Parcel
from tests.browser.steps import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def demo(transactional_db):
    call_command("seed_demo", orders=60, verbosity=0)


def test_merchant_logs_in_filters_orders_and_opens_one(page, live_server, demo, screenshot):
    log_in(page, live_server, "merchant")
    page.wait_for_url(re.compile(r"/aftersales/$"))

    page.click("nav.mainnav >> text=订单")
    page.wait_for_url(re.compile(r"/orders/$"))
    assert page.locator("table.table tbody tr").count() == 25
    screenshot("orders-list")

    page.select_option("#id_parcel_status", "in_transit")
    page.click("button:has-text('筛选')")
    page.wait_for_url(re.compile(r"parcel_status=in_transit"))
    expected = Order.objects.filter(shop__code="demo-shop", parcels__status=Parcel.Status.IN_TRANSIT).distinct().count()
    rows = page.locator("table.table tbody tr")
    assert rows.count() == min(expected, 25)
    assert expected > 0
    screenshot("orders-filtered")

    order_no = rows.first.locator("td").first.inner_text().strip()
    rows.first.locator("td a").first.click()
    page.wait_for_url(re.compile(rf"/orders/{order_no}/$"))
    assert page.locator("h1").first.inner_text().startswith(f"订单 {order_no}")
    assert page.locator("ol.timeline li").count() >= 2
    assert page.locator("ol.timeline").first.locator("text=运输中").count() >= 1
    screenshot("order-detail")


def test_outlet_staff_land_on_their_portal_and_cannot_open_orders(page, live_server, demo, screenshot):
    log_in(page, live_server, "outlet-yto")
    page.wait_for_url(re.compile(r"/outlet/$"))
    assert "YTO-SH-001" in page.content()
    screenshot("outlet-portal")
    response = page.goto(f"{live_server.url}/orders/")
    assert response.status == 403
