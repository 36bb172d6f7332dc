"""The preview's warnings in the browser, on the demo as `merchant`: 在途仅退款 → 拦截全部筛选结果 →
the preview shows fees, the refunds success pays and the warnings with their counts → 排除这些 on the
≥ 1000 yuan warning → the counts and totals change → confirm launches exactly the remaining ones; then
the interception story on the detail of one of them. Screenshots at 1440 and 1280 px.

Selectors are ids and data-* attributes, not translated text; the expected figures are the preview
service's own, computed from the same rows.
"""

import re
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone
from playwright.sync_api import expect

from aftersales.filters import QUICK_VIEWS, filtered_after_sales
from aftersales.selectors import after_sales_for_shop
from interception import services
from interception.models import InterceptionBatch, ServiceOrder
from interception.rules import LaunchWarning as W
from shop.models import Shop
from tests.browser.steps import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

IN_TRANSIT_REFUND_ONLY = next(view for view in QUICK_VIEWS if view.key == "in_transit_refund_only")
WIDTHS = (1440, 1280)


@pytest.fixture
def demo_shop(transactional_db, settings):
    call_command("seed_demo", verbosity=0)
    settings.CARRIER_SIMULATED_FAILURE_RATE = 1.0  # every parcel out for delivery fails: a failure to look at
    return Shop.objects.get(code="demo-shop")


def money(value: Decimal) -> re.Pattern:
    """The amount as the page writes it, with or without the locale's thousands separator."""
    whole, cents = f"{value:.2f}".split(".")
    grouped = f"{int(whole):,}".replace(",", ",?")
    return re.compile(rf"^\s*{grouped}\.{cents}\s*$")


def expected_preview(shop, leave_out=frozenset()):
    listed = filtered_after_sales(
        after_sales_for_shop(shop=shop), IN_TRANSIT_REFUND_ONLY.params, now=timezone.now()
    ).values_list("pk", flat=True)
    return services.preview_launch(shop=shop, after_sale_ids=list(listed), leave_out=leave_out)


def shoot(page, screenshot, name):
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        screenshot(f"{name}-{width}")


def assert_totals(page, preview):
    expect(page.locator("#total-count")).to_have_text(str(len(preview.kept)))
    expect(page.locator("#total-fee")).to_have_text(f"{preview.total_fee:.2f}")
    expect(page.locator("#total-refund")).to_have_text(money(preview.total_refund))


def test_merchant_sees_the_whole_cost_leaves_the_large_refunds_out_and_launches_the_rest(
    page, live_server, demo_shop, screenshot
):
    before = expected_preview(demo_shop)
    counts = {w.code: w.count for w in before.warnings}
    assert counts.get(W.LARGE_AMOUNT, 0) >= 1, "the demo's in-transit view has refunds of 1000 yuan or more"
    assert {W.ABUSE, W.ALREADY_INTERCEPTED} <= set(counts)

    log_in(page, live_server, "merchant")
    page.wait_for_url(re.compile(r"/aftersales/$"))
    page.click("a.quick-view[href*='logistics=in_transit'][href*='type=refund_only']")
    page.wait_for_url(re.compile(r"logistics=in_transit"))
    workbench_url = page.url
    page.click("#bulk-intercept-all")
    page.wait_for_url(re.compile(r"/interception/bulk/"))

    # Fees and refunds per courier and in total, and each warning with its count.
    assert_totals(page, before)
    for group in before.groups:
        row = page.locator(f"#preview-groups tr[data-courier='{group['code']}'][data-mode='{group['mode']}']")
        expect(row.locator("td.refund")).to_have_text(money(group["refund"]))
    for code, count in counts.items():
        expect(page.locator(f"#preview-warnings tr[data-warning='{code}'] td.count")).to_have_text(str(count))
    assert page.locator("#preview-warnings tr[data-left-out='false']").count() == len(
        [c for c in counts if c != W.PRECHECK_REFUSED]
    )
    shoot(page, screenshot, "routine-preview-warnings")

    # 排除这些 on the ≥ 1000 yuan warning: the counts and totals follow, the warning offers 重新加入.
    page.click("[data-leave-out='large_amount']")
    page.wait_for_selector("[data-put-back='large_amount']")
    after = expected_preview(demo_shop, leave_out=frozenset({W.LARGE_AMOUNT}))
    assert len(after.kept) == len(before.kept) - counts[W.LARGE_AMOUNT]
    assert after.total_refund < before.total_refund
    assert_totals(page, after)
    expect(page.locator("#left-out-count")).to_have_text(str(counts[W.LARGE_AMOUNT]))
    assert page.locator("#preview-warnings tr[data-warning='large_amount']").get_attribute("data-left-out") == "true"
    # 取消 goes back to the workbench with the same filters.
    assert page.locator("#cancel").get_attribute("href") in workbench_url
    assert "logistics=in_transit" in page.locator("#cancel").get_attribute("href")
    shoot(page, screenshot, "routine-preview-large-left-out")

    page.click("#confirm")
    page.wait_for_url(re.compile(r"/interception/batches/\d+/$"))
    batch = InterceptionBatch.objects.get(shop=demo_shop, via=ServiceOrder.Via.BULK, created_by__username="merchant")
    launched = set(ServiceOrder.objects.filter(batch=batch).values_list("after_sale_id", flat=True))
    assert launched == {c.after_sale.pk for c in after.kept}
    assert not launched & {c.after_sale.pk for c in after.left_out}
    expect(page.locator("#p-done")).to_have_text(str(len(after.kept)))
    shoot(page, screenshot, "routine-batch-after-leave-out")

    # The story of one interception on its after-sale's detail: a failure with its reason if any.
    orders = ServiceOrder.objects.filter(batch=batch).select_related("after_sale")
    failed = orders.filter(status=ServiceOrder.Status.FAILED).first()
    order = failed or orders.first()
    page.goto(f"{live_server.url}/aftersales/{order.after_sale.after_sale_no}/")
    row = page.locator(f"#interception-story tr[data-service-order='{order.number}']")
    expect(row).to_have_attribute("data-status", order.status)
    if failed:
        expect(row.locator("td.reason")).to_have_text(failed.failure_reason)
        expect(row.locator("td.fee")).to_have_text("—")
    else:
        expect(row.locator("td.fee")).to_have_text(f"{order.fee:.2f}")
    assert page.locator("#history tr[data-actor='interception'][data-action='interception']").count() == 2
    shoot(page, screenshot, "routine-detail-interception-story")
