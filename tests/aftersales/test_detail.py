"""The after-sale detail page: what it shows, which actions it offers and why not, in constant queries."""

import re
from decimal import Decimal

import pytest
from django.conf import settings as django_settings
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from aftersales import services
from aftersales.models import AfterSale, BuyerNotification
from shop.models import Order, Parcel
from tests.aftersales.factories import apply, awaiting_receipt, png_bytes, post, reject_data, upload
from tests.shop.factories import make_order, make_parcel

S = AfterSale.Status


@pytest.fixture
def en(client, merchant):
    """The merchant, logged in, reading English (the Chinese catalogue is filled later)."""
    client.force_login(merchant)
    client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def detail(client, after_sale):
    return client.get(reverse("aftersales:after-sale-detail", kwargs={"after_sale_no": after_sale.after_sale_no}))


def section(html: str, element_id: str) -> str:
    """The HTML of the element with this id, up to its closing tag (sections are not nested here)."""
    match = re.search(rf'<(\w+)[^>]*\bid="{element_id}"[^>]*>(.*?)</\1>', html, re.S)
    assert match, f"no #{element_id}"
    return match.group(0)


def blockers(response) -> dict[str, str | None]:
    return {key: action.blocker for key, action in response.context["actions"].items()}


def enabled_forms(html: str) -> set[str]:
    return set(re.findall(r'<form method="post"[^>]*id="form-([a-z-]+)"', html))


def disabled_buttons(html: str) -> dict[str, str]:
    found = re.findall(r'<button type="button" class="btn" disabled title="([^"]*)" data-blocked="(\w+)"', html)
    return {key: title for title, key in found}


# --- what the page shows -------------------------------------------------------------------------
def test_the_page_shows_order_line_parcel_timeline_tags_and_deadline(en, shop, merchant, events):
    earlier = apply(shop, no="AS-1", amount="20.00", paid="100.00", parcel_status=Parcel.Status.IN_TRANSIT)
    with transaction.atomic():
        services.agree_refund(after_sale_id=earlier.pk, shop=shop, user=merchant)
    after_sale = apply(shop, no="AS-2", reason=AfterSale.Reason.NOT_RECEIVED, amount="50.00", order=earlier.order)
    parcel = after_sale.parcel
    events.send(
        "parcel.status",
        {
            "tracking_no": parcel.tracking_no,
            "courier": parcel.courier.code,
            "status": "out_for_delivery",
            "at": timezone.now().isoformat(),
        },
    )

    response = detail(en, after_sale)

    assert response.status_code == 200
    html = response.content.decode()
    assert "After-sale AS-2" in html
    assert (
        'id="after-sale-status" class="badge badge-as-refund_after_refusal" data-status="refund_after_refusal"' in html
    )
    tags = section(html, "after-sale-summary")
    assert 'data-tag="sequence">Application 2<' in tags
    assert 'data-tag="multi-refund"' in tags  # the line had a refund when the buyer applied again
    assert 'data-tag="refund-after-refusal"' in tags
    assert after_sale.order.order_no in section(html, "order")
    parcels = section(html, "parcels")
    assert parcel.tracking_no in parcels
    assert re.findall(r'<span class="badge badge-(\w+)">', parcels) == [
        "out_for_delivery",
        "out_for_delivery",
        "in_transit",
    ]
    # Refund after refusal: 7 days to go, shown as a countdown.
    assert re.search(r'id="deadline" data-state="ok"', html)
    assert re.search(r'class="countdown">6 d 23 h left<', html)  # the workbench's words


def test_a_deadline_within_12_hours_is_marked_about_to_time_out(en, shop):
    after_sale = apply(shop)
    AfterSale.objects.filter(pk=after_sale.pk).update(deadline=timezone.now() + timezone.timedelta(hours=3))

    html = detail(en, after_sale).content.decode()

    assert 'id="deadline" data-state="soon"' in html
    assert re.search(r'class="countdown soon">(2 h 59 min|3 h 0 min) left<', html)


def test_the_ledger_shows_the_line_and_the_order_with_what_is_left(en, shop, merchant):
    order = make_order(
        shop, status=Order.Status.SHIPPED, lines=[{"paid_amount": "100.00"}, {"paid_amount": "50.00", "line_no": "2"}]
    )
    make_parcel(order, status=Parcel.Status.SIGNED, shipped_at=timezone.now() - timezone.timedelta(days=1))
    after_sale = apply(shop, amount="30.00", order=order)
    other_line = order.lines.get(line_no="2")
    with transaction.atomic():
        services.pay_small_amount(
            after_sale_id=after_sale.pk,
            shop=shop,
            user=merchant,
            amount=Decimal("5.00"),
            reason="补偿",
            idempotency_key="1",
        )
    from aftersales import ledger

    with transaction.atomic():
        ledger.record_refund(
            line=other_line,
            after_sale=None,
            kind="price_protection",
            amount=Decimal("8.00"),
            actor="merchant",
            reason="价保",
            idempotency_key="pp-1",
        )

    html = detail(en, after_sale).content.decode()

    assert '<span id="line-refundable">95.00</span>' in html
    assert '<span id="order-refundable">137.00</span>' in html
    line_ledger = section(html, "line-ledger")
    assert re.findall(r'<tr data-kind="(\w+)">', line_ledger) == ["small_payment"]
    assert "补偿" in line_ledger and "merchant" in line_ledger
    order_ledger = section(html, "order-ledger")
    assert re.findall(r'<tr data-kind="(\w+)">', order_ledger) == ["small_payment", "price_protection"]
    assert "价保" in order_ledger and "8.00" in order_ledger


def test_the_history_shows_who_did_what_and_which_status_change(en, shop):
    after_sale = apply(shop, reason=AfterSale.Reason.NOT_RECEIVED, parcel_status=Parcel.Status.IN_TRANSIT)

    history = section(detail(en, after_sale).content.decode(), "history")

    rows = re.findall(r'<tr data-action="(\w+)" data-actor="(\w+)">', history)
    # Newest first: the platform agreed refund after refusal and told the buyer.
    assert rows == [("notification", "platform"), ("status", "platform"), ("applied", "buyer")]
    assert "pending merchant → refund after refusal" in history
    assert "Refund after refusal agreed automatically" in history


def test_the_buyer_notifications_are_listed_with_their_delivery(en, shop, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):  # the delivery task runs after commit
        after_sale = apply(shop, reason=AfterSale.Reason.NOT_RECEIVED, parcel_status=Parcel.Status.IN_TRANSIT)

    notifications = section(detail(en, after_sale).content.decode(), "notifications")

    assert re.findall(r'data-kind="(\w+)" data-delivery="(\w+)"', notifications) == [("refuse_parcel", "skipped")]
    assert BuyerNotification.objects.get().status == "skipped"  # no webhook in tests: recorded, not sent


def test_the_refund_abuse_hint_counts_the_buyers_refund_only_requests(en, shop, merchant, settings):
    settings.AFTERSALES_ABUSE_THRESHOLD_COUNT = 2
    first = apply(shop, no="AS-1", amount="10.00")
    with transaction.atomic():
        services.agree_refund(after_sale_id=first.pk, shop=shop, user=merchant)
    buyer = first.buyer
    order = make_order(shop, status=Order.Status.SHIPPED, buyer=buyer)
    make_parcel(order, status=Parcel.Status.SIGNED, shipped_at=timezone.now() - timezone.timedelta(days=1))
    second = apply(shop, no="AS-2", order=order)

    hint = section(detail(en, second).content.decode(), "abuse-hint")

    assert 'data-flagged="true"' in hint and 'data-count="2"' in hint
    assert "2 refund-only requests in this shop in the last 90 days, 10.00 yuan refunded." in hint

    settings.AFTERSALES_ABUSE_THRESHOLD_COUNT = 3
    assert 'data-flagged="false"' in section(detail(en, second).content.decode(), "abuse-hint")


def test_evidence_images_are_shown_through_the_scoped_url(en, shop):
    after_sale = apply(shop)
    post(en, "reject", after_sale, reject_data(upload("a.png", png_bytes())))
    image = after_sale.evidence.get()

    evidence = section(detail(en, after_sale).content.decode(), "evidence")

    src = reverse("aftersales:evidence", kwargs={"after_sale_no": after_sale.after_sale_no, "pk": image.pk})
    assert f'<img src="{src}"' in evidence
    assert "/media/" not in evidence


def test_another_shops_after_sale_is_a_404(client, shop, other_merchant):
    after_sale = apply(shop)
    client.force_login(other_merchant)
    assert detail(client, after_sale).status_code == 404


# --- which actions, and why not ------------------------------------------------------------------
def test_a_new_refund_only_request_offers_refund_reject_small_payment_and_flag(en, shop):
    after_sale = apply(shop, amount="60.00")

    response = detail(en, after_sale)

    assert blockers(response) == {
        "agree_refund": None,
        "agree_return": "only for return and refund requests",
        "confirm_receipt": "the buyer has not shipped the goods back yet",
        "reject": None,
        "small_payment": None,
        "flag": None,
        "send_card": "The line already has an open after-sale.",
    }
    html = response.content.decode()
    assert enabled_forms(html) == {"agree-refund", "reject", "small-payment", "flag"}
    assert disabled_buttons(html) == {
        "agree_return": "Only for return and refund requests",
        "confirm_receipt": "The buyer has not shipped the goods back yet",
        "send_card": "The line already has an open after-sale.",
        "intercept": "Already signed",  # added by the interception layer
    }
    assert "Agree refund of 60.00 yuan" in html
    assert 'name="version" value="1"' in html


def test_refund_after_refusal_in_transit_cannot_be_rejected_yet(en, shop):
    after_sale = apply(shop, reason=AfterSale.Reason.NOT_RECEIVED, parcel_status=Parcel.Status.IN_TRANSIT)

    response = detail(en, after_sale)

    assert blockers(response)["reject"] == (
        "the platform agreed refund after refusal: reject only once the buyer has signed for the parcel"
    )
    assert blockers(response)["agree_refund"] is None
    assert 'id="signed-hint"' not in response.content.decode()


def test_a_signed_parcel_preselects_goods_signed_in_the_open_reject_form(en, shop, events):
    after_sale = apply(shop, reason=AfterSale.Reason.NOT_RECEIVED, parcel_status=Parcel.Status.IN_TRANSIT)
    parcel = after_sale.parcel
    events.send(
        "parcel.status",
        {
            "tracking_no": parcel.tracking_no,
            "courier": parcel.courier.code,
            "status": "signed",
            "at": timezone.now().isoformat(),
        },
    )

    response = detail(en, after_sale)

    html = response.content.decode()
    assert blockers(response)["reject"] is None
    assert 'id="signed-hint"' in html
    assert '<details class="action-form" id="reject" open>' in html
    assert '<option value="goods_signed" selected>' in html


def test_a_return_awaiting_receipt_offers_confirm_receipt_and_reject(en, shop, merchant):
    after_sale = awaiting_receipt(shop, merchant)

    response = detail(en, after_sale)

    assert {key for key, blocker in blockers(response).items() if blocker is None} == {
        "confirm_receipt",
        "reject",
        "small_payment",
        "flag",
    }
    assert blockers(response)["agree_refund"] == "refund once the returned goods are received"


def test_a_refunded_after_sale_offers_the_card_and_small_payment_only(en, shop, merchant):
    after_sale = apply(shop, amount="30.00")
    with transaction.atomic():
        services.agree_refund(after_sale_id=after_sale.pk, shop=shop, user=merchant)

    response = detail(en, after_sale)

    closed = "the after-sale is closed"
    assert blockers(response) == {
        "agree_refund": closed,
        "agree_return": closed,
        "confirm_receipt": closed,
        "reject": closed,
        "small_payment": None,
        "flag": None,
        "send_card": None,
    }


def test_a_fully_refunded_line_blocks_small_payment_and_the_card(en, shop, merchant):
    after_sale = apply(shop, amount="100.00", paid="100.00")
    with transaction.atomic():
        services.agree_refund(after_sale_id=after_sale.pk, shop=shop, user=merchant)

    response = detail(en, after_sale)

    assert blockers(response)["small_payment"] == "nothing is left to refund on the line"
    assert blockers(response)["send_card"] == "Nothing of the order is left to refund."


def test_the_page_has_no_inline_script_or_event_handler(en, shop):
    html = detail(en, apply(shop)).content.decode()
    assert "<script" not in html
    assert not re.search(r"\son[a-z]+=", html)


# --- constant queries ----------------------------------------------------------------------------
def busy_after_sale(shop, merchant, no: str, n: int) -> AfterSale:
    """An after-sale with n small payments (n refunds, n more history rows) and n tracking events."""
    after_sale = apply(shop, no=no, paid="500.00", amount="10.00")
    for i in range(n):
        with transaction.atomic():
            services.pay_small_amount(
                after_sale_id=after_sale.pk,
                shop=shop,
                user=merchant,
                amount=Decimal("1.00"),
                reason="r",
                idempotency_key=f"{no}-{i}",
            )
    parcel = after_sale.parcel
    for i in range(n):
        parcel.tracking_events.create(status=parcel.status, at=timezone.now(), note=str(i))
    return after_sale


def test_the_page_takes_the_same_number_of_queries_for_1_or_5_refunds_and_history_rows(en, shop, merchant):
    small = busy_after_sale(shop, merchant, "AS-SMALL", 1)
    big = busy_after_sale(shop, merchant, "AS-BIG", 5)
    assert (small.logs.count(), big.logs.count()) == (2, 6)
    detail(en, small)  # warm the session and the caches

    with CaptureQueriesContext(connection) as one:
        assert detail(en, small).status_code == 200
    with CaptureQueriesContext(connection) as five:
        assert detail(en, big).status_code == 200

    assert len(one) == len(five)
    assert len(five) <= 20
