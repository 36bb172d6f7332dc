"""A merchant's day in the browser: open 拒签后退款, reject a signed one with evidence, flag several at once.

Selectors use ids, names and data-* attributes, not translated text: the Chinese catalogue changes.
"""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from aftersales import services
from aftersales.models import AfterSale, EvidenceImage
from shop import services as shop_services
from shop.models import Order, Parcel, Shop
from tests.aftersales.factories import png_bytes
from tests.browser.steps import log_in
from tests.shop.factories import make_order, make_outlet, make_parcel

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def refund_after_refusal(shop, outlet, n: int) -> AfterSale:
    """A buyer asks a refund of goods not received while the parcel is in transit: agreed automatically."""
    order = make_order(
        shop, order_no=f"BR-O-{n}", status=Order.Status.SHIPPED, lines=[{"paid_amount": "89.00", "title": "保温杯"}]
    )
    make_parcel(
        order,
        outlet=outlet,
        tracking_no=f"YTBR{n:08d}",
        status=Parcel.Status.IN_TRANSIT,
        shipped_at=timezone.now() - timedelta(days=2),
    )
    with transaction.atomic():
        return services.apply_for_after_sale(
            after_sale_no=f"AS-BR-{n}",
            order_no=order.order_no,
            line_no="1",
            type="refund_only",
            reason="not_received",
            amount=Decimal("89.00"),
            note="一直没收到",
            at=timezone.now() - timedelta(hours=5),
        )


def sign_for(after_sale: AfterSale) -> None:
    parcel = after_sale.parcel
    at = timezone.now() - timedelta(hours=1)
    with transaction.atomic():
        shop_services.record_parcel_status(
            courier_code=parcel.courier.code, tracking_no=parcel.tracking_no, status="signed", at=at
        )
        services.react_to_parcel_status(parcel=Parcel.objects.get(pk=parcel.pk), status="signed", at=at)


@pytest.fixture
def after_sales(transactional_db):
    call_command("seed_demo", orders=20, verbosity=0)
    shop = Shop.objects.get(code="demo-shop")
    outlet = make_outlet(code="YTO-BR-001")
    rows = [refund_after_refusal(shop, outlet, n) for n in range(1, 4)]
    sign_for(rows[0])
    return rows


def test_merchant_rejects_a_signed_refund_after_refusal_with_evidence_then_flags_several(
    page, live_server, after_sales, screenshot
):
    signed, *others = after_sales
    log_in(page, live_server, "merchant")
    page.wait_for_url(re.compile(r"/aftersales/$"))

    # The 拒签后退款 quick view lists the three.
    page.click("a.quick-view[href*='status=refund_after_refusal']")
    page.wait_for_url(re.compile(r"status=refund_after_refusal"))
    for after_sale in after_sales:
        assert page.locator(f"table a[href='/aftersales/{after_sale.after_sale_no}/']").count() == 1
    screenshot("aftersales-refusal-view")

    # The signed one: the reject form is open with "goods signed: apply for return and refund" chosen.
    page.click(f"table a[href='/aftersales/{signed.after_sale_no}/']")
    page.wait_for_url(re.compile(rf"/aftersales/{signed.after_sale_no}/$"))
    assert page.locator("#after-sale-status").get_attribute("data-status") == "refund_after_refusal"
    assert page.locator("#signed-hint").is_visible()
    assert page.locator("#id_reject_reason").input_value() == "goods_signed"
    assert page.locator("[data-parcel-status='signed']").count() == 1
    assert page.locator("#history tr[data-action='deadline']").count() == 1  # the 48-hour rule
    assert page.locator("[data-blocked='agree_return']").get_attribute("title")  # disabled, with the reason
    screenshot("aftersale-detail-signed")

    # A file named .png that is no image: a form error, the reason kept, nothing changed.
    page.set_input_files(
        "#id_reject_evidence", files=[{"name": "proof.png", "mimeType": "image/png", "buffer": b"MZ\x90 not an image"}]
    )
    page.click("#form-reject button[type=submit]")
    page.wait_for_selector("#id_reject_evidence_errors")
    assert "proof.png" in page.locator("#id_reject_evidence_errors").inner_text()
    assert page.locator("#after-sale-status").get_attribute("data-status") == "refund_after_refusal"
    assert page.locator("#id_reject_reason").input_value() == "goods_signed"
    screenshot("aftersale-detail-bad-upload")
    signed.refresh_from_db()
    assert signed.status == "refund_after_refusal" and not EvidenceImage.objects.filter(after_sale=signed).exists()

    page.set_input_files(
        "#id_reject_evidence",
        files=[{"name": "signed-proof.png", "mimeType": "image/png", "buffer": png_bytes(40, 30)}],
    )
    page.fill("#id_reject_note", "物流显示已签收，请申请退货退款")
    page.click("#form-reject button[type=submit]")

    page.wait_for_selector("#after-sale-status[data-status='rejected']")
    assert page.locator("#after-sale-status").inner_text().strip() in ("商家拒绝", "rejected")
    assert page.locator(".msg-success").count() == 1
    assert page.locator("#after-sale-reject-reason").get_attribute("data-reason") == "goods_signed"
    # The evidence is shown through the shop's own URL, and it loads.
    image = page.locator("#evidence img")
    assert image.count() == 1
    assert image.evaluate("img => img.complete && img.naturalWidth") == 40
    assert page.locator("#notifications li[data-kind='rejected']").count() == 1
    screenshot("aftersale-detail-rejected")

    signed.refresh_from_db()
    assert (signed.status, signed.reject_reason) == ("rejected", "goods_signed")
    assert EvidenceImage.objects.get(after_sale=signed).content_type == "image/png"

    # Back on the workbench: tick the two still waiting, flag them red with a remark.
    page.goto(f"{live_server.url}/aftersales/?status=refund_after_refusal")
    assert page.locator(f"table a[href='/aftersales/{signed.after_sale_no}/']").count() == 0
    for after_sale in others:
        page.check(f"input[name='ids'][value='{after_sale.pk}']")
    page.select_option(".bulk-bar select[name='flag']", "red")
    page.fill(".bulk-bar input[name='remark']", "11-23 待拦截")
    screenshot("aftersales-bulk-flag-ticked")
    page.click(".bulk-bar button[type=submit]")

    page.wait_for_selector(".msg-success")
    screenshot("aftersales-bulk-flagged")
    for after_sale in others:
        after_sale.refresh_from_db()
        assert (after_sale.flag, after_sale.remark) == ("red", "11-23 待拦截")
    signed.refresh_from_db()
    assert (signed.flag, signed.remark) == ("", "")

    # The detail shows the flag and the history row of it.
    page.goto(f"{live_server.url}/aftersales/{others[0].after_sale_no}/")
    assert page.locator("[data-tag='flag']").get_attribute("data-flag") == "red"
    assert page.locator("#history tr[data-action='flag']").count() == 1
    assert page.locator("#history tr[data-action='remark']").count() == 1
