"""A claim in the browser: the merchant finds a lost parcel in the claim-window tracker and files a claim with
an evidence photo; outlet-jt accepts it in its portal; the merchant records the offline payment.

Selectors are ids, names and data-* attributes only: Chromium asks for Chinese (Accept-Language zh-CN).
"""

import re

import pytest
from django.core.management import call_command
from django.utils import timezone

from interception.models import ServiceOrder
from settlement.claims import rules
from settlement.claims import selectors as claim_selectors
from settlement.models import Claim
from shop.models import Shop
from tests.aftersales.factories import png_bytes
from tests.browser.steps import log_in, log_out

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def demo(transactional_db):
    call_command("seed_demo", orders=20, verbosity=0)
    return Shop.objects.get(code="demo-shop")


def test_merchant_files_a_claim_in_the_window_and_the_outlet_accepts_it(page, live_server, demo, screenshot):
    now = timezone.now()
    open_now = claim_selectors.claim_tracker_for_shop(shop=demo, now=now, window="open")
    lost = open_now.filter(outlet__code="JT-SH-001").order_by("-succeeded_at").first()
    upcoming = claim_selectors.claim_tracker_for_shop(shop=demo, now=now, window="upcoming").first()
    goods_value = lost.after_sale.line.paid_amount
    amount = min(goods_value, rules.CLAIM_CAP)

    # The tracker: parcels not back, by closing date; only an open window offers "file a claim".
    log_in(page, live_server, "merchant")
    page.wait_for_url(re.compile(r"/aftersales/$"))
    page.goto(f"{live_server.url}/settlement/claim-tracker/")
    assert page.locator(f"tr[data-service-order='{lost.pk}'] #file-claim-{lost.pk}").count() == 1
    assert page.locator(f"tr[data-service-order='{upcoming.pk}'] [data-opens-in]").count() == 1
    assert page.locator(f"#file-claim-{upcoming.pk}").count() == 0
    screenshot("claim-tracker")

    # Before its window, the claim form is disabled and says from when.
    page.goto(f"{live_server.url}/settlement/claims/new/{upcoming.pk}/")
    assert page.locator("#file-claim-disabled").is_disabled()
    opens_at = rules.format_moment(rules.claim_window(upcoming.succeeded_at).opens_at)
    assert opens_at in page.locator("#claim-blocker").inner_text()
    assert page.locator("#form-claim").count() == 0
    screenshot("claim-new-not-open-yet")

    # Inside the window: the form shows the goods' value and the cap; file with a photo.
    page.goto(f"{live_server.url}/settlement/claim-tracker/")
    page.click(f"#file-claim-{lost.pk}")
    page.wait_for_url(re.compile(rf"/settlement/claims/new/{lost.pk}/$"))
    assert page.locator("#claim-window").get_attribute("data-open") == "1"
    assert page.locator("#goods-value").inner_text().replace(",", "") == f"{goods_value:.2f}"
    page.select_option("#id_reason", "lost")
    page.fill("#id_amount", f"{amount:.2f}")
    page.fill("#id_description", "拦截成功后包裹一直未退回，网点查无此件")
    page.set_input_files(
        "#id_evidence", files=[{"name": "waybill-photo.png", "mimeType": "image/png", "buffer": png_bytes(48, 32)}]
    )
    screenshot("claim-new-filled")
    page.click("#file-claim")

    page.wait_for_url(re.compile(r"/settlement/claims/\d+/$"))
    claim = Claim.objects.get(service_order=lost)
    assert page.locator("#claim").get_attribute("data-status") == "submitted"
    assert page.locator(".msg-success").count() == 1
    image = page.locator("#evidence img")
    assert image.count() == 1
    assert image.evaluate("img => img.complete && img.naturalWidth") == 48
    assert page.locator("#history tr[data-to-status='submitted']").count() == 1
    screenshot("claim-detail-submitted")
    assert (claim.status, claim.amount, claim.goods_value) == ("submitted", amount, goods_value)
    assert ServiceOrder.objects.get(pk=lost.pk).status in rules.CLAIMABLE_STATUSES

    # outlet-jt answers in its portal: accepts a little less than claimed.
    log_out(page)
    log_in(page, live_server, "outlet-jt")
    page.wait_for_url(re.compile(r"/outlet/$"))
    page.click("#nav-claims")
    page.wait_for_url(re.compile(r"/outlet/claims/$"))
    page.click(f"a[data-claim='{claim.pk}']")
    page.wait_for_url(re.compile(rf"/outlet/claims/{claim.pk}/$"))
    assert page.locator("#evidence img").evaluate("img => img.complete && img.naturalWidth") == 48
    offered = amount - 1
    page.fill("#id_accept_amount", f"{offered:.2f}")
    page.fill("#id_accept_note", "核实丢件，同意赔付")
    page.click("#accept")
    page.wait_for_selector("#claim[data-status='accepted']")
    screenshot("outlet-claim-accepted")
    page.click("#back-to-claims")
    page.wait_for_url(re.compile(r"/outlet/claims/$"))
    assert page.locator("a[data-claim]").count() == Claim.objects.filter(outlet__code="JT-SH-001").count()
    screenshot("outlet-claims")

    # The merchant records the outlet's offline payment.
    log_out(page)
    log_in(page, live_server, "merchant")
    page.wait_for_url(re.compile(r"/aftersales/$"))
    page.goto(f"{live_server.url}/settlement/claims/{claim.pk}/")
    assert page.locator("#id_amount").input_value() == f"{offered:.2f}"
    page.fill("#id_payment_reference", "WX20261123001")
    page.click("#compensate")
    page.wait_for_selector("#claim[data-status='compensated']")
    screenshot("claim-detail-compensated")

    claim.refresh_from_db()
    assert (claim.status, claim.accepted_amount, claim.compensated_amount, claim.payment_reference) == (
        "compensated",
        offered,
        offered,
        "WX20261123001",
    )
    assert list(claim.logs.values_list("to_status", flat=True)) == ["submitted", "accepted", "compensated"]
    page.goto(f"{live_server.url}/settlement/claims/")
    assert page.locator("a[data-claim]").count() == Claim.objects.filter(shop=demo).count()
    screenshot("claim-list")
