"""Seed 002, steps 2-3 in the browser, on the demo as `merchant`: 已签收/已退回仅退款 → tick the page →
驳回勾选（已签收） → the confirmation lists the signed ones (with their tracking images) and says why the
returned ones are left alone → confirm with the card → every signed one is rejected with its generated
evidence, which opens as an image; then back on the view, 退款勾选（已退回） refunds the ones that came
back. Screenshots at 1440 and 1280 px, and of the image itself.

Selectors are ids and data-* attributes, not translated text; the expected rows are the rule's own.
"""

import re

import pytest
from django.core.management import call_command
from django.utils import timezone
from playwright.sync_api import expect

from aftersales import rules, services
from aftersales.filters import QUICK_VIEWS, filtered_after_sales
from aftersales.models import AfterSale, BulkJob, BuyerNotification
from aftersales.selectors import after_sales_for_shop
from shop.models import Shop
from tests.browser.conftest import SCREENSHOTS
from tests.browser.steps import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SIGNED_REFUND_ONLY = next(view for view in QUICK_VIEWS if view.key == "signed_refund_only")
WIDTHS = (1440, 1280)


@pytest.fixture
def demo_shop(transactional_db):
    call_command("seed_demo", verbosity=0)
    return Shop.objects.get(code="demo-shop")


def shoot(page, screenshot, name):
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        screenshot(f"{name}-{width}")


def test_merchant_rejects_the_signed_ones_in_bulk_with_generated_evidence(page, live_server, demo_shop, screenshot):
    listed = list(
        filtered_after_sales(after_sales_for_shop(shop=demo_shop), SIGNED_REFUND_ONLY.params, now=timezone.now())
    )
    signed = {a.after_sale_no for a in listed if rules.signed_reject_blocker(services.action_facts(a)) is None}
    others = {a.after_sale_no for a in listed} - signed
    returned = {a.after_sale_no for a in listed if rules.returned_refund_blocker(services.action_facts(a)) is None}
    assert signed and returned, "the demo has signed-for and returned refund-only after-sales"

    log_in(page, live_server, "merchant")
    page.wait_for_url(re.compile(r"/aftersales/$"))
    page.click("a.quick-view[href*='logistics=signed_or_returned']")
    page.wait_for_url(re.compile(r"logistics=signed_or_returned"))
    workbench_url = page.url
    shoot(page, screenshot, "signed-routine-quick-view")
    page.check("input.js-select-all")
    page.click("#bulk-reject-signed")
    page.wait_for_url(re.compile(r"/aftersales/bulk-reject-signed/preview/"))

    # What will be done, and what will not, with the reason.
    ready = page.locator("#reject-ready tbody tr[data-after-sale]")
    expect(ready).to_have_count(len(signed))
    assert {ready.nth(i).get_attribute("data-after-sale") for i in range(ready.count())} == signed
    skipped = page.locator("#reject-skipped tbody tr[data-after-sale]")
    expect(skipped).to_have_count(len(others))
    expect(page.locator("#skipped-count")).to_have_text(str(len(others)))
    assert page.locator("#cancel").get_attribute("href") in workbench_url
    expect(page.locator("#id_send_card")).to_be_checked()
    shoot(page, screenshot, "signed-routine-confirmation")

    # A row's tracking image, as it will be attached.
    first = sorted(signed)[0]
    with page.expect_popup() as popup:
        page.click(f"[data-timeline='{first}']")
    image_page = popup.value
    image_page.wait_for_load_state()
    response = image_page.request.get(image_page.url)
    assert (response.status, response.headers["content-type"]) == (200, "image/png")
    image_page.close()

    page.fill("#id_note", "如需退货请申请退货退款")
    page.click("#confirm")
    page.wait_for_url(re.compile(r"/aftersales/bulk/\d+/$"))
    expect(page.locator("#job-status")).to_have_attribute("data-status", "done", timeout=20_000)
    done = page.locator("#job-rows tbody tr[data-ok='true']")
    expect(done).to_have_count(len(signed))
    shoot(page, screenshot, "signed-routine-job")

    job = BulkJob.objects.get(shop=demo_shop, user__username="merchant")
    rejected = AfterSale.objects.filter(bulk_rows__job=job, status="rejected")
    assert set(rejected.values_list("after_sale_no", flat=True)) == signed
    cards = BuyerNotification.objects.filter(shop=demo_shop, kind="card", line__after_sales__after_sale_no__in=signed)
    assert cards.count() == len(signed)

    # The generated evidence opens as an image (the screenshot shows its Chinese).
    evidence = page.locator(f"#job-rows tr[data-after-sale='{first}'] [data-evidence]")
    href = evidence.get_attribute("href")
    image = page.request.get(live_server.url + href)
    assert (image.status, image.headers["content-type"]) == (200, "image/png")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    (SCREENSHOTS / "signed-routine-evidence.png").write_bytes(image.body())

    # On the detail: rejected, with the evidence.
    page.goto(f"{live_server.url}/aftersales/{first}/")
    expect(page.locator(f"a[href='{href}']")).to_have_count(1)
    shoot(page, screenshot, "signed-routine-detail")

    # Back on the view: the ones that came back are refunded in bulk; the rejected ones are gone from it.
    page.goto(workbench_url)
    page.check("input.js-select-all")
    page.click("#bulk-refund-returned")
    page.wait_for_url(re.compile(r"/aftersales/bulk-refund-returned/preview/"))
    ready = page.locator("#refund-ready tbody tr[data-after-sale]")
    expect(ready).to_have_count(len(returned))
    shoot(page, screenshot, "signed-routine-refund-confirmation")
    page.click("#confirm")
    page.wait_for_url(re.compile(r"/aftersales/bulk/\d+/$"))
    expect(page.locator("#job-status")).to_have_attribute("data-status", "done", timeout=20_000)
    expect(page.locator("#job-rows tbody tr[data-ok='true']")).to_have_count(len(returned))
    refunded = AfterSale.objects.filter(after_sale_no__in=returned, status="refunded")
    assert refunded.count() == len(returned)
    shoot(page, screenshot, "signed-routine-refund-job")
