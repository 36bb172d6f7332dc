"""A JT offline-settlement partnership: the merchant applies, outlet-jt approves in its portal, it is active.

Selectors are ids and name attributes only: the Chinese catalogue is filled in later.
"""

import re

import pytest
from django.core.management import call_command

from interception.models import Partnership
from interception.services import end_partnership
from tests.browser.steps import log_in, log_out

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def demo(transactional_db):
    call_command("seed_demo", orders=20, verbosity=0)
    # The demo data may hold a live demo-shop × JT-SH-001 partnership: end it, so the flow starts clean.
    for partnership in Partnership.objects.filter(
        shop__code="demo-shop", outlet__code="JT-SH-001", status__in=Partnership.LIVE_STATUSES
    ).select_related("shop"):
        end_partnership(partnership_id=partnership.pk, shop=partnership.shop, user=None, note="browser test setup")


def test_merchant_applies_with_jt_outlet_jt_approves_and_the_merchant_sees_it_active(
    page, live_server, demo, screenshot
):
    # The merchant opens offline settlement with JT-SH-001.
    log_in(page, live_server, "merchant")
    page.wait_for_url(re.compile(r"/aftersales/$"))
    page.goto(f"{live_server.url}/interception/partnerships/")
    page.select_option("#id_courier", "JT")
    page.click("#courier-choose")
    page.wait_for_url(re.compile(r"/interception/partnerships/\?courier=JT$"))

    without_ewaybill = page.locator("#outlet-JT-GZ-003")
    assert without_ewaybill.is_disabled()
    assert without_ewaybill.get_attribute("title")  # the reason, on hover
    assert page.locator("label.outlet-choice.disabled[title]", has=without_ewaybill).count() == 1
    assert page.locator("#outlet-JT-SH-001").is_enabled()
    page.check("#outlet-JT-SH-001")
    page.fill("#id_apply_fee", "4.50")
    screenshot("partnership-apply-jt")

    page.click("#apply-submit")
    page.wait_for_url(re.compile(r"/interception/partnerships/$"))
    partnership = Partnership.objects.get(shop__code="demo-shop", outlet__code="JT-SH-001", status="pending")
    assert str(partnership.fee) == "4.50"
    assert page.locator(".msg-success").count() == 1
    assert page.locator(f"#partnerships tr[data-partnership='{partnership.pk}'][data-status='pending']").count() == 1
    screenshot("partnership-applied-pending")
    log_out(page)

    # outlet-jt answers the application in its portal.
    log_in(page, live_server, "outlet-jt")
    page.wait_for_url(re.compile(r"/outlet/$"))
    application = page.locator(f"#application-{partnership.pk}")
    assert application.count() == 1
    assert "4.50" in application.locator("dd.fee").inner_text()
    screenshot("outlet-portal-pending-application")
    page.fill(f"#id_approve_{partnership.pk}_note", "已电话沟通，按4.50元/单结算")
    page.click(f"#approve-{partnership.pk}")
    page.wait_for_url(re.compile(r"/outlet/$"))
    assert page.locator(f"#application-{partnership.pk}").count() == 0
    assert page.locator(f"#active-partnerships tr[data-partnership='{partnership.pk}']").count() == 1
    assert page.locator(".msg-success").count() == 1
    screenshot("outlet-portal-approved")
    page.click("#nav-service-orders")
    page.wait_for_url(re.compile(r"/outlet/service-orders/$"))
    assert page.locator("table#service-orders").count() == 1
    assert page.locator("#export-csv").count() == 1
    screenshot("outlet-service-orders")
    log_out(page)

    # The merchant sees it active, with the outlet's note and the whole history.
    log_in(page, live_server, "merchant")
    page.wait_for_url(re.compile(r"/aftersales/$"))
    page.goto(f"{live_server.url}/interception/partnerships/")
    row = page.locator(f"#partnerships tr[data-partnership='{partnership.pk}']")
    assert row.get_attribute("data-status") == "active"
    assert "已电话沟通" in row.inner_text()
    row.locator("a").first.click()
    page.wait_for_url(re.compile(rf"/interception/partnerships/{partnership.pk}/$"))
    assert page.locator("#partnership").get_attribute("data-status") == "active"
    assert page.locator("#partnership-history tbody tr").count() == 2
    assert page.locator("#partnership-history tr[data-to-status='active']").count() == 1
    assert page.locator("#end-submit").count() == 1
    screenshot("partnership-active-detail")
