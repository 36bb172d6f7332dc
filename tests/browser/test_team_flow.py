"""The owner adds a team member with after-sales handling only; the member agrees a refund, and sees the
partnership button disabled with the reason on hover.

Selectors are ids and name attributes only.
"""

import re

import pytest
from django.core.management import call_command

from aftersales.models import AfterSale
from interception.models import Partnership
from shop.models import User
from tests.browser.steps import log_in, log_out

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def demo(transactional_db):
    call_command("seed_demo", orders=20, verbosity=0)


def _agreeable_refund() -> AfterSale:
    """A pending refund-only after-sale of demo-shop that the merchant may agree now."""
    from aftersales import rules, services

    for after_sale in AfterSale.objects.filter(
        shop__code="demo-shop", status=AfterSale.Status.PENDING_MERCHANT, type=AfterSale.Type.REFUND_ONLY
    ).order_by("pk"):
        if rules.agree_refund_blocker(services.action_facts(after_sale)) is None:
            return after_sale
    raise AssertionError("the demo has no refund to agree")


def test_owner_adds_an_after_sales_member_who_agrees_a_refund_but_not_a_partnership(
    page, live_server, demo, screenshot
):
    log_in(page, live_server, "merchant")
    page.wait_for_url(re.compile(r"/aftersales/$"))
    page.click("#nav-team")
    page.wait_for_url(re.compile(r"/team/$"))
    page.fill("#id_username", "xiaozhang")
    page.fill("#id_display_name", "张客服")
    page.check("#add-member input[name=sets][value=aftersales_handling]")
    page.click("#add-member-submit")
    password = page.locator("#new-password-value").inner_text().strip()
    assert len(password) >= 12
    assert page.locator("#member-xiaozhang").count() == 1
    screenshot("team-member-added")
    member = User.objects.get(username="xiaozhang")
    assert sorted(member.groups.values_list("name", flat=True)) == ["aftersales_handling"]
    log_out(page)

    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", "xiaozhang")
    page.fill("#id_password", password)
    page.click("button[type=submit].primary")
    page.wait_for_url(re.compile(r"/aftersales/$"))
    assert page.locator("#nav-team").get_attribute("title") == "需要店铺管理权限"

    after_sale = _agreeable_refund()
    page.goto(f"{live_server.url}/aftersales/{after_sale.after_sale_no}/")
    page.click("#form-agree-refund button[type=submit]")
    page.wait_for_url(re.compile(rf"/aftersales/{after_sale.after_sale_no}/$"))
    assert page.locator(".msg-success").count() == 1
    after_sale.refresh_from_db()
    assert after_sale.status == AfterSale.Status.REFUNDED
    assert after_sale.logs.filter(user=member).exists()

    partnership = Partnership.objects.filter(shop__code="demo-shop", status=Partnership.Status.ACTIVE).first()
    page.goto(f"{live_server.url}/interception/partnerships/{partnership.pk}/")
    end = page.locator("#end-submit")
    assert end.is_disabled()
    assert end.get_attribute("title") == "需要拦截设置权限"
    end.hover()
    screenshot("team-member-partnership-disabled")
    partnership.refresh_from_db()
    assert partnership.status == Partnership.Status.ACTIVE
