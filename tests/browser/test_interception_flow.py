"""The seed-002 routine in the browser: 在途仅退款 → intercept all filtered → preview → confirm → results.

Two tests:

* the whole flow from the workbench on demo data. Tests run django-q2 in sync mode, so the carrier
  tasks run inside the confirm request (on commit of the batch) and the batch page opens with
  every result already there;
* the live path of the batch page: a batch whose service orders are still "processing" (as when
  the carrier answers by callback), results applied in the database by the test, and the page's
  counters and badges follow without a reload (static/js/batch.js polls every second).

Selectors are ids, hrefs and data-* attributes, not translated text.
"""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone
from playwright.sync_api import expect

from aftersales import services as aftersales_services
from aftersales.filters import QUICK_VIEWS, filtered_after_sales
from aftersales.models import AfterSale
from aftersales.selectors import after_sales_for_shop
from interception import services
from interception.models import FeeCharge, InterceptionBatch, ServiceOrder
from shop import demo
from shop.models import Order, Parcel, Shop, User
from tests.browser.steps import log_in
from tests.shop.factories import make_courier, make_order, make_outlet, make_parcel

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

IN_TRANSIT_REFUND_ONLY = next(view for view in QUICK_VIEWS if view.key == "in_transit_refund_only")


def same_document(page) -> bool:
    """True while the page loaded before is still the one shown: a reload clears the marker."""
    return page.evaluate("() => window.__interceptionMarker === true")


@pytest.fixture
def demo_data(transactional_db, settings):
    call_command("seed_demo", orders=60, verbosity=0)
    # Deterministic outcomes: every parcel already out for delivery fails, the others succeed.
    settings.CARRIER_SIMULATED_FAILURE_RATE = 1.0
    shop = Shop.objects.get(code="demo-shop")
    # One of the view's parcels was intercepted from its detail page a moment ago and the carrier has
    # not answered yet: the preview must refuse it, with the reason.
    listed = filtered_after_sales(
        after_sales_for_shop(shop=shop), IN_TRANSIT_REFUND_ONLY.params, now=timezone.now()
    ).values_list("pk", flat=True)
    first = next(c for c in services.candidates_for(shop=shop, after_sale_ids=list(listed)) if c.ok)
    owner = User.objects.get(username="merchant")
    created, _skipped = services.launch_interceptions(
        shop=shop, user=owner, after_sale_ids=[first.after_sale.pk], via=ServiceOrder.Via.DETAIL, enqueue=False
    )
    assert len(created) == 1
    return shop


def test_merchant_intercepts_the_in_transit_refund_only_view_from_the_workbench(
    page, live_server, demo_data, screenshot
):
    shop = demo_data
    listed = list(
        filtered_after_sales(after_sales_for_shop(shop=shop), IN_TRANSIT_REFUND_ONLY.params, now=timezone.now())
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    candidates = services.candidates_for(shop=shop, after_sale_ids=listed)
    eligible = [c for c in candidates if c.ok]
    refused = [c for c in candidates if not c.ok]
    assert len(eligible) >= 5, "the demo data should offer a handful of parcels to intercept"
    assert len(refused) >= 1
    expected_fee = sum((c.fee.amount for c in eligible), Decimal("0.00"))
    expected_groups = {(c.parcel.courier.code, c.fee.mode) for c in eligible}
    will_fail = {c.after_sale.pk for c in eligible if c.parcel.status == Parcel.Status.OUT_FOR_DELIVERY}

    log_in(page, live_server, "merchant")
    page.wait_for_url(re.compile(r"/aftersales/$"))

    # The 在途仅退款 quick view lists them all (on one page: the demo has fewer than a page's worth).
    page.click("a.quick-view[href*='logistics=in_transit'][href*='type=refund_only']")
    page.wait_for_url(re.compile(r"logistics=in_transit"))
    assert page.locator("a.quick-view.active[href*='logistics=in_transit']").count() == 1
    assert page.locator("table input[name='ids']").count() == len(listed)
    screenshot("interception-workbench-in-transit")

    # Everything filtered, without ticking a row: the preview, grouped by courier and settlement.
    page.click("#bulk-intercept-all")
    page.wait_for_url(re.compile(r"/interception/bulk/"))
    groups = page.locator("#preview-groups tbody tr")
    assert groups.count() == len(expected_groups)
    for code, mode in expected_groups:
        assert page.locator(f"#preview-groups tr[data-courier='{code}'][data-mode='{mode}']").count() == 1
    assert page.locator("#total-count").inner_text().strip() == str(len(eligible))
    assert page.locator("#total-fee").inner_text().strip() == f"{expected_fee:.2f}"
    assert page.locator("#refused tbody tr").count() == len(refused)
    assert page.locator("#refused-count").inner_text() == str(len(refused))
    for candidate in refused:
        row = page.locator(f"#refused tr[data-after-sale='{candidate.after_sale.after_sale_no}']")
        assert row.locator("td.reason").inner_text().strip()  # the reason, translated
    assert page.locator("#confirm").is_enabled()
    screenshot("interception-bulk-preview")

    page.click("#confirm")
    page.wait_for_url(re.compile(r"/interception/batches/\d+/$"))
    batch = InterceptionBatch.objects.get(shop=shop, via=ServiceOrder.Via.BULK, created_by__username="merchant")
    orders = ServiceOrder.objects.filter(batch=batch)
    assert orders.count() == len(eligible)

    # Sync django-q2: the carrier calls ran on commit of the confirm request, so the page opens done.
    # (Live updates while results arrive are the second test's subject.)
    succeeded, failed = len(eligible) - len(will_fail), len(will_fail)
    expect(page.locator("#p-done")).to_have_text(str(len(eligible)))
    expect(page.locator("#p-succeeded")).to_have_text(str(succeeded))
    expect(page.locator("#p-failed")).to_have_text(str(failed))
    assert page.locator("#batch").get_attribute("data-finished") == "1"
    rows = page.locator("#batch-orders tbody tr[data-order]")
    assert rows.count() == len(eligible)
    assert page.locator("#batch-orders .badge-so-succeeded").count() == succeeded
    assert page.locator("#batch-orders .badge-so-failed").count() == failed
    for order in orders.filter(status=ServiceOrder.Status.FAILED):
        assert page.locator(f"tr[data-order='{order.pk}'] td.reason").inner_text().strip()
    assert page.locator("#retry").count() == (1 if failed else 0)
    assert page.locator(".msg-success").count() == 1
    screenshot("interception-batch-done")

    # Success refunded the buyer and charged the fee once; the failed ones stay open in the view.
    for order in orders.select_related("after_sale"):
        if order.after_sale_id in will_fail:
            assert order.status == ServiceOrder.Status.FAILED and order.after_sale.is_open
        else:
            assert order.status == ServiceOrder.Status.SUCCEEDED
            assert order.after_sale.status == AfterSale.Status.REFUNDED
    assert FeeCharge.objects.filter(service_order__batch=batch).count() == succeeded
    page.goto(f"{live_server.url}/aftersales/?{IN_TRANSIT_REFUND_ONLY.query}")
    assert page.locator("table input[name='ids']").count() == len(listed) - succeeded


# --- the live path ---------------------------------------------------------------------------------


def refund_only_in_transit(shop, outlet, n: int) -> AfterSale:
    order = make_order(
        shop, order_no=f"LV-O-{n}", status=Order.Status.SHIPPED, lines=[{"paid_amount": "59.00", "title": "数据线"}]
    )
    make_parcel(
        order,
        outlet=outlet,
        tracking_no=f"{outlet.courier.code}LV{n:08d}",
        status=Parcel.Status.IN_TRANSIT,
        shipped_at=timezone.now() - timedelta(days=1),
    )
    with transaction.atomic():
        return aftersales_services.apply_for_after_sale(
            after_sale_no=f"AS-LV-{n}",
            order_no=order.order_no,
            line_no="1",
            type="refund_only",
            reason="not_received",
            amount=Decimal("59.00"),
            note="不想要了",
            at=timezone.now() - timedelta(hours=2),
        )


@pytest.fixture
def processing_batch(transactional_db):
    """A bulk batch of three, sent to a carrier that answers later: every service order processing."""
    shop = Shop.objects.create(code="demo-shop", name="示例小店")
    merchant = User.objects.create_user(
        username="merchant", password=demo.DEMO_PASSWORD, kind="merchant", shop=shop, shop_role="owner"
    )
    yto = make_outlet(make_courier("YTO", name="圆通"), code="YTO-LV-001")
    jt = make_outlet(make_courier("JT", name="极兔"), code="JT-LV-001")
    after_sales = [refund_only_in_transit(shop, outlet, n) for n, outlet in enumerate([yto, yto, jt], start=1)]
    with transaction.atomic():
        batch = InterceptionBatch.objects.create(shop=shop, created_by=merchant, via=ServiceOrder.Via.BULK)
        created, skipped = services.launch_interceptions(
            shop=shop,
            user=merchant,
            after_sale_ids=[a.pk for a in after_sales],
            via=ServiceOrder.Via.BULK,
            batch=batch,
            enqueue=False,  # no task: the test plays the carrier
        )
    assert len(created) == 3 and not skipped
    for order in created:
        ServiceOrder.objects.filter(pk=order.pk).update(
            status=ServiceOrder.Status.PROCESSING, attempts=1, carrier_ref=f"LIVE-{order.pk}"
        )
    return batch, sorted(created, key=lambda o: o.pk)


def test_batch_page_follows_results_as_they_arrive_without_a_reload(page, live_server, processing_batch, screenshot):
    batch, (first, second, third) = processing_batch
    log_in(page, live_server, "merchant")
    page.wait_for_url(re.compile(r"/aftersales/$"))
    page.goto(f"{live_server.url}/interception/batches/{batch.pk}/")
    page.evaluate("() => { window.__interceptionMarker = true; }")

    assert page.locator("#batch").get_attribute("data-finished") == "0"
    expect(page.locator("#p-done")).to_have_text("0")
    expect(page.locator("#p-total")).to_have_text("3")
    assert page.locator("#batch-orders .badge-so-processing").count() == 3
    screenshot("interception-batch-live-waiting")

    def badge(order):
        return page.locator(f"#batch-orders tr[data-order='{order.pk}'] .status .badge")

    # The carrier stops the first parcel: the counters and its badge follow, the page stays.
    services.apply_result(service_order_id=first.pk, status="succeeded", occurred_at=timezone.now())
    expect(page.locator("#p-succeeded")).to_have_text("1", timeout=5000)
    expect(page.locator("#p-done")).to_have_text("1")
    expect(badge(first)).to_have_class(re.compile(r"\bbadge-so-succeeded\b"))
    expect(badge(second)).to_have_class(re.compile(r"\bbadge-so-processing\b"))
    assert page.locator("#bar").evaluate("bar => bar.style.width") == "33%"
    assert same_document(page)
    screenshot("interception-batch-live-one-done")

    # The second one fails: the reason appears in its row.
    services.apply_result(
        service_order_id=second.pk, status="failed", reason="派送员已出发，拦截失败", occurred_at=timezone.now()
    )
    expect(page.locator("#p-failed")).to_have_text("1", timeout=5000)
    expect(page.locator("#p-done")).to_have_text("2")
    expect(badge(second)).to_have_class(re.compile(r"\bbadge-so-failed\b"))
    expect(page.locator(f"tr[data-order='{second.pk}'] td.reason")).to_have_text("派送员已出发，拦截失败")
    assert same_document(page)
    screenshot("interception-batch-live-two-done")

    # The last result finishes the batch; with a failure among them the page reloads once to offer
    # "retry failed".
    services.apply_result(service_order_id=third.pk, status="succeeded", occurred_at=timezone.now())
    expect(page.locator("#retry")).to_be_visible(timeout=5000)
    assert page.locator("#batch").get_attribute("data-finished") == "1"
    assert not same_document(page)
    expect(page.locator("#p-done")).to_have_text("3")
    expect(page.locator("#p-succeeded")).to_have_text("2")
    screenshot("interception-batch-live-finished")
