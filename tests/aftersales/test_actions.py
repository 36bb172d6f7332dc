"""The merchant's actions on one after-sale, through the pages: exact effects, and refusals that change nothing."""

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from aftersales import services
from aftersales.models import AfterSale, AfterSaleLog, BuyerNotification, EvidenceImage, RefundEntry
from shop.models import Order, Parcel
from tests.aftersales.factories import JPEG, WEBP, apply, awaiting_receipt, png_bytes, post, reject_data, upload

S = AfterSale.Status


def state(after_sale: AfterSale) -> dict:
    """Everything an action may change, to prove that a refusal changed nothing."""
    after_sale = AfterSale.objects.select_related("line", "order").get(pk=after_sale.pk)
    return {
        "after_sale": AfterSale.objects.filter(pk=after_sale.pk).values().get(),
        "line_refunded": after_sale.line.refunded_amount,
        "order_refunded": after_sale.order.refunded_amount,
        "refunds": list(RefundEntry.objects.filter(order=after_sale.order).values_list("pk", flat=True)),
        "logs": list(AfterSaleLog.objects.filter(after_sale=after_sale).values_list("pk", flat=True)),
        "notifications": list(BuyerNotification.objects.filter(order=after_sale.order).values_list("pk", flat=True)),
        "evidence": list(EvidenceImage.objects.filter(after_sale=after_sale).values_list("pk", flat=True)),
    }


def new_logs(after_sale: AfterSale, before: dict) -> list[tuple]:
    return list(
        AfterSaleLog.objects.filter(after_sale=after_sale)
        .exclude(pk__in=before["logs"])
        .order_by("id")
        .values_list("action", "actor", "user__username", "from_status", "to_status")
    )


def url(name: str, after_sale: AfterSale) -> str:
    return reverse(f"aftersales:{name}", kwargs={"after_sale_no": after_sale.after_sale_no})


def messages_of(response) -> list[tuple[str, str]]:
    return [(m.level_tag, m.message) for m in response.context["messages"]] if response.context else []


@pytest.fixture
def en(client, merchant):
    """The merchant, logged in, reading English (the Chinese catalogue is filled later)."""
    client.force_login(merchant)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


# --- agree refund --------------------------------------------------------------------------------
def test_agreeing_a_refund_pays_it_into_the_ledger_and_closes_the_after_sale(en, shop, merchant):
    after_sale = apply(shop, amount="60.00")
    before = state(after_sale)

    response = post(en, "agree-refund", after_sale)

    assert response.redirect_chain == [(url("after-sale-detail", after_sale), 302)]
    assert messages_of(response) == [("success", "Refund agreed.")]
    after_sale.refresh_from_db()
    assert (after_sale.status, after_sale.refunded_amount, after_sale.deadline, after_sale.version) == (
        S.REFUNDED,
        Decimal("60.00"),
        None,
        before["after_sale"]["version"] + 1,
    )
    assert after_sale.last_actor == "merchant"
    entry = RefundEntry.objects.get()
    assert (entry.kind, entry.amount, entry.actor, entry.user, entry.after_sale) == (
        "refund_only",
        Decimal("60.00"),
        "merchant",
        merchant,
        after_sale,
    )
    assert (after_sale.line.refundable_amount, Order.objects.get().refunded_amount) == (
        Decimal("40.00"),
        Decimal("60.00"),
    )
    assert new_logs(after_sale, before) == [
        ("refund", "merchant", "merchant", "", ""),
        ("status", "merchant", "merchant", "pending_merchant", "refunded"),
        ("notification", "platform", None, "", ""),
    ]
    notification = BuyerNotification.objects.get()
    assert (notification.kind, notification.payload["amount"]) == ("refunded", "60.00")


def test_agreeing_a_refund_of_a_closed_after_sale_is_refused_and_changes_nothing(en, shop, merchant):
    after_sale = apply(shop)
    with transaction.atomic():
        services.agree_refund(after_sale_id=after_sale.pk, shop=shop, user=merchant)
    after_sale.refresh_from_db()
    before = state(after_sale)

    response = post(en, "agree-refund", after_sale)

    assert messages_of(response) == [("error", "The after-sale is closed.")]
    assert state(after_sale) == before


# --- agree return --------------------------------------------------------------------------------
def test_agreeing_a_return_asks_the_buyer_to_send_the_goods_back_within_7_days(en, shop, merchant):
    after_sale = apply(shop, type=AfterSale.Type.RETURN_REFUND)
    before = state(after_sale)

    response = post(en, "agree-return", after_sale)

    assert messages_of(response) == [("success", "Return agreed: the buyer was asked to send the goods back.")]
    after_sale.refresh_from_db()
    assert after_sale.status == S.AWAITING_BUYER_RETURN
    assert timedelta(days=7) - timedelta(minutes=1) < after_sale.deadline - timezone.now() <= timedelta(days=7)
    assert new_logs(after_sale, before) == [
        ("status", "merchant", "merchant", "pending_merchant", "awaiting_buyer_return"),
        ("notification", "platform", None, "", ""),
    ]
    assert list(BuyerNotification.objects.values_list("kind", flat=True)) == ["return_agreed"]
    assert RefundEntry.objects.count() == 0


def test_agreeing_a_return_of_a_refund_only_request_is_refused_and_changes_nothing(en, shop):
    after_sale = apply(shop)
    before = state(after_sale)

    response = post(en, "agree-return", after_sale)

    assert messages_of(response) == [("error", "Only for return and refund requests.")]
    assert state(after_sale) == before


# --- confirm receipt -----------------------------------------------------------------------------
def test_confirming_the_returned_goods_refunds_them(en, shop, merchant):
    after_sale = awaiting_receipt(shop, merchant, amount="80.00")
    before = state(after_sale)

    response = post(en, "confirm-receipt", after_sale)

    assert messages_of(response) == [("success", "Goods received and refund paid.")]
    after_sale.refresh_from_db()
    assert (after_sale.status, after_sale.refunded_amount) == (S.REFUNDED, Decimal("80.00"))
    assert list(RefundEntry.objects.values_list("kind", "amount", "actor")) == [
        ("return_refund", Decimal("80.00"), "merchant")
    ]
    assert new_logs(after_sale, before) == [
        ("refund", "merchant", "merchant", "", ""),
        ("status", "merchant", "merchant", "awaiting_merchant_receipt", "refunded"),
        ("notification", "platform", None, "", ""),
    ]


def test_confirming_receipt_before_the_buyer_shipped_is_refused_and_changes_nothing(en, shop):
    after_sale = apply(shop, type=AfterSale.Type.RETURN_REFUND)
    before = state(after_sale)

    response = post(en, "confirm-receipt", after_sale)

    assert messages_of(response) == [("error", "The buyer has not shipped the goods back yet.")]
    assert state(after_sale) == before


# --- reject --------------------------------------------------------------------------------------
def test_rejecting_with_evidence_stores_the_images_and_tells_the_buyer(en, shop, merchant):
    after_sale = apply(shop)
    before = state(after_sale)

    response = post(
        en,
        "reject",
        after_sale,
        reject_data(upload("a.png", png_bytes()), upload("b.jpg", JPEG, "image/jpeg"), upload("c.webp", WEBP, "")),
    )

    assert messages_of(response) == [("success", "After-sale rejected.")]
    after_sale.refresh_from_db()
    assert (after_sale.status, after_sale.reject_reason, after_sale.reject_note, after_sale.deadline) == (
        S.REJECTED,
        "not_as_claimed",
        "照片显示完好",
        None,
    )
    images = list(EvidenceImage.objects.order_by("id"))
    assert [(i.content_type, i.uploaded_by) for i in images] == [
        ("image/png", merchant),
        ("image/jpeg", merchant),
        ("image/webp", merchant),
    ]
    # Stored under a name of our own with the extension of what the bytes are.
    assert [i.image.name.rsplit(".", 1)[1] for i in images] == ["png", "jpg", "webp"]
    assert images[0].image.read() == png_bytes()
    assert new_logs(after_sale, before) == [
        ("status", "merchant", "merchant", "pending_merchant", "rejected"),
        ("notification", "platform", None, "", ""),
    ]
    notification = BuyerNotification.objects.get()
    assert (notification.kind, notification.payload["note"]) == ("rejected", "照片显示完好")
    assert RefundEntry.objects.count() == 0


def test_a_signed_parcel_lets_the_merchant_reject_a_refund_after_refusal(en, shop, events):
    after_sale = apply(shop, reason=AfterSale.Reason.NOT_RECEIVED, parcel_status=Parcel.Status.IN_TRANSIT)
    assert after_sale.status == S.REFUND_AFTER_REFUSAL
    parcel = after_sale.parcel
    response = events.send(
        "parcel.status",
        {
            "tracking_no": parcel.tracking_no,
            "courier": parcel.courier.code,
            "status": "signed",
            "at": timezone.now().isoformat(),
        },
    )
    assert response.status_code == 200
    after_sale.refresh_from_db()

    response = post(en, "reject", after_sale, reject_data(upload("a.png", png_bytes()), reason="goods_signed"))

    assert messages_of(response) == [("success", "After-sale rejected.")]
    after_sale.refresh_from_db()
    assert (after_sale.status, after_sale.reject_reason) == (S.REJECTED, "goods_signed")
    assert BuyerNotification.objects.filter(kind="rejected").count() == 1


def test_rejecting_a_refund_after_refusal_in_transit_is_refused_and_changes_nothing(en, shop):
    after_sale = apply(shop, reason=AfterSale.Reason.NOT_RECEIVED, parcel_status=Parcel.Status.IN_TRANSIT)
    before = state(after_sale)

    response = post(en, "reject", after_sale, reject_data(upload("a.png", png_bytes())))

    assert messages_of(response) == [
        ("error", "The platform agreed refund after refusal: reject only once the buyer has signed for the parcel.")
    ]
    assert state(after_sale) == before


@pytest.mark.parametrize(
    ("files", "error"),
    [
        ([], "Attach at least one evidence image."),
        ([("fake.png", b"MZ\x90\x00 not an image at all", "image/png")], "fake.png is not a JPEG, PNG or WebP image."),
        ([("doc.pdf", b"%PDF-1.4 ...", "application/pdf")], "doc.pdf is not a JPEG, PNG or WebP image."),
        ([("gif.gif", b"GIF89a\x01\x00\x01\x00", "image/gif")], "gif.gif is not a JPEG, PNG or WebP image."),
        ([(f"{n}.png", png_bytes(), "image/png") for n in range(6)], "Attach at most 5 evidence images."),
    ],
    # An image above 5 MB never reaches the form: tests/shop/test_request_limits.py.
    ids=["missing", "renamed-exe", "pdf", "gif", "six"],
)
def test_a_bad_upload_is_a_form_error_and_changes_nothing(en, shop, files, error):
    after_sale = apply(shop)
    before = state(after_sale)

    response = post(en, "reject", after_sale, reject_data(*(upload(*f) for f in files)), follow=False)

    assert response.status_code == 200  # the page again, with the reject form open on its error
    form = response.context["actions"]["reject"].form
    assert form.errors == {"evidence": [error]}
    assert response.context["open_action"] == "reject"
    assert 'id="id_reject_evidence_errors"' in response.content.decode()
    assert messages_of(response) == [("error", "Nothing was done: please correct the form.")]
    assert state(after_sale) == before


def test_one_bad_image_among_good_ones_stores_none_of_them(en, shop):
    after_sale = apply(shop)
    before = state(after_sale)

    response = post(
        en, "reject", after_sale, reject_data(upload("ok.png", png_bytes()), upload("bad.png", b"<svg/>")), follow=False
    )

    assert response.context["actions"]["reject"].form.errors == {
        "evidence": ["bad.png is not a JPEG, PNG or WebP image."]
    }
    assert state(after_sale) == before


def test_a_reason_outside_the_list_is_a_form_error(en, shop):
    after_sale = apply(shop)
    before = state(after_sale)

    response = post(en, "reject", after_sale, reject_data(upload("a.png", png_bytes()), reason="because"))

    assert list(response.context["actions"]["reject"].form.errors) == ["reason"]
    assert state(after_sale) == before


# --- small payment -------------------------------------------------------------------------------
def small_payment(amount="5.00", key="6f1c2a0e-1111-4c4c-9a9a-000000000001", reason="运费补偿"):
    return {"amount": amount, "reason": reason, "idempotency_key": key}


def test_a_small_payment_goes_into_the_ledger_and_leaves_the_status(en, shop, merchant):
    after_sale = apply(shop, amount="60.00")
    before = state(after_sale)

    response = post(en, "small-payment", after_sale, small_payment("5.00"))

    assert messages_of(response) == [("success", "Small payment of 5.00 yuan paid.")]
    after_sale.refresh_from_db()
    assert (after_sale.status, after_sale.refunded_amount, after_sale.version) == (
        S.PENDING_MERCHANT,
        Decimal("0.00"),
        before["after_sale"]["version"] + 1,
    )
    entry = RefundEntry.objects.get()
    assert (entry.kind, entry.amount, entry.after_sale, entry.user, entry.reason) == (
        "small_payment",
        Decimal("5.00"),
        None,
        merchant,
        "运费补偿",
    )
    assert (after_sale.line.refunded_amount, Order.objects.get().refunded_amount) == (Decimal("5.00"), Decimal("5.00"))
    assert new_logs(after_sale, before) == [("refund", "merchant", "merchant", "", "")]
    assert AfterSaleLog.objects.get(pk__in=new_logs_pks(after_sale, before)).message == (
        "Small payment of 5.00 yuan: 运费补偿"
    )


def new_logs_pks(after_sale, before):
    return AfterSaleLog.objects.filter(after_sale=after_sale).exclude(pk__in=before["logs"]).values("pk")


def test_a_double_submitted_small_payment_pays_once(en, shop):
    after_sale = apply(shop)
    data = small_payment("5.00")
    version = after_sale.version

    first = post(en, "small-payment", after_sale, data, version=version)
    after_first = state(after_sale)
    second = post(en, "small-payment", after_sale, data, version=version)  # the same page, posted again

    assert messages_of(first) == messages_of(second) == [("success", "Small payment of 5.00 yuan paid.")]
    assert state(after_sale) == after_first
    assert list(RefundEntry.objects.values_list("amount", flat=True)) == [Decimal("5.00")]
    assert Order.objects.get().refunded_amount == Decimal("5.00")


def test_a_small_payment_above_what_is_left_is_refused_and_changes_nothing(en, shop, merchant):
    after_sale = apply(shop, amount="30.00", paid="100.00")
    with transaction.atomic():
        services.pay_small_amount(
            after_sale_id=after_sale.pk,
            shop=shop,
            user=merchant,
            amount=Decimal("90.00"),
            reason="x",
            idempotency_key="k",
        )
    after_sale.refresh_from_db()
    before = state(after_sale)

    response = post(en, "small-payment", after_sale, small_payment("10.01"))

    assert messages_of(response) == [("error", "The amount is above what is left to refund on the line (10.00 yuan).")]
    assert state(after_sale) == before


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL")
def test_a_small_payment_double_submitted_at_the_same_instant_pays_once(shop, merchant):
    after_sale = apply(shop)
    version = after_sale.version
    clients = [Client(), Client()]
    for browser in clients:
        browser.force_login(merchant)
    barrier = threading.Barrier(2)
    statuses: list = [None, None]

    def submit(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            statuses[i] = clients[i].post(url("small-payment", after_sale), {"version": version, **small_payment()})
        except BaseException as exc:  # asserted below
            statuses[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert [getattr(r, "status_code", r) for r in statuses] == [302, 302]
    assert list(RefundEntry.objects.values_list("amount", flat=True)) == [Decimal("5.00")]
    assert AfterSaleLog.objects.filter(after_sale=after_sale, action="refund").count() == 1
    after_sale.refresh_from_db()
    assert (after_sale.version, after_sale.order.refunded_amount) == (version + 1, Decimal("5.00"))


@pytest.mark.parametrize(
    ("amount", "error"),
    [
        ("0", "The amount must be more than 0.00 yuan."),
        ("-3.00", "The amount must be more than 0.00 yuan."),
        ("1.005", "Ensure that there are no more than 2 decimal places."),
        ("abc", "Enter a number."),
        ("", "This field is required."),
    ],
)
def test_a_small_payment_amount_must_be_positive_yuan_with_two_decimals(en, shop, amount, error):
    after_sale = apply(shop)
    before = state(after_sale)

    response = post(en, "small-payment", after_sale, small_payment(amount), follow=False)

    assert response.status_code == 200
    assert response.context["actions"]["small_payment"].form.errors == {"amount": [error]}
    assert state(after_sale) == before


def test_a_small_payment_needs_a_reason_and_the_pages_key(en, shop):
    after_sale = apply(shop)
    before = state(after_sale)

    response = post(en, "small-payment", after_sale, {"amount": "5.00", "reason": "", "idempotency_key": ""})

    assert set(response.context["actions"]["small_payment"].form.errors) == {"reason", "idempotency_key"}
    assert state(after_sale) == before


# --- flag and remark -----------------------------------------------------------------------------
def test_flag_and_remark_are_saved_with_history(en, shop, merchant):
    after_sale = apply(shop)
    before = state(after_sale)

    response = post(en, "flag", after_sale, {"flag": "red", "remark": "11-22 已拦截"})

    assert messages_of(response) == [("success", "Flag and remark saved.")]
    after_sale.refresh_from_db()
    assert (after_sale.flag, after_sale.remark, after_sale.status, after_sale.version) == (
        "red",
        "11-22 已拦截",
        S.PENDING_MERCHANT,
        before["after_sale"]["version"] + 1,
    )
    assert new_logs(after_sale, before) == [
        ("flag", "merchant", "merchant", "", ""),
        ("remark", "merchant", "merchant", "", ""),
    ]


def test_an_unknown_flag_colour_is_a_form_error(en, shop):
    after_sale = apply(shop)
    before = state(after_sale)

    response = post(en, "flag", after_sale, {"flag": "pink", "remark": ""})

    assert list(response.context["actions"]["flag"].form.errors) == ["flag"]
    assert state(after_sale) == before


# --- send an after-sale card ---------------------------------------------------------------------
def test_an_after_sale_card_is_sent_when_the_application_rules_allow_it(en, shop, merchant):
    after_sale = apply(shop, amount="30.00")
    with transaction.atomic():
        services.agree_refund(after_sale_id=after_sale.pk, shop=shop, user=merchant)
    after_sale.refresh_from_db()
    before = state(after_sale)

    response = post(en, "send-card", after_sale)

    assert messages_of(response) == [("success", "After-sale card sent: the buyer is invited to apply.")]
    card = BuyerNotification.objects.get(kind="card")
    assert (card.line_id, card.after_sale, card.payload["sent_by"]) == (after_sale.line_id, None, "merchant")
    assert new_logs(after_sale, before) == [("notification", "merchant", "merchant", "", "")]
    after_sale.refresh_from_db()
    assert (after_sale.status, after_sale.version) == (S.REFUNDED, before["after_sale"]["version"])


def test_an_after_sale_card_while_the_line_has_an_open_after_sale_is_refused(en, shop):
    after_sale = apply(shop)
    before = state(after_sale)

    response = post(en, "send-card", after_sale)

    assert messages_of(response) == [("error", "The line already has an open after-sale.")]
    assert state(after_sale) == before


# --- every action: stale page, another shop, method and login ------------------------------------
ACTIONS = {
    "agree-refund": {},
    "agree-return": {},
    "confirm-receipt": {},
    "reject": None,  # built per test: an upload can be read once
    "small-payment": small_payment(),
    "flag": {"flag": "red", "remark": "x"},
    "send-card": {},
}


def action_data(name):
    return reject_data(upload("a.png", png_bytes())) if name == "reject" else ACTIONS[name]


def eligible(name, shop, merchant) -> AfterSale:
    """An after-sale on which `name` would succeed with a fresh page."""
    if name == "agree-return":
        return apply(shop, type=AfterSale.Type.RETURN_REFUND)
    if name == "confirm-receipt":
        return awaiting_receipt(shop, merchant)
    if name == "send-card":
        after_sale = apply(shop, amount="30.00")
        with transaction.atomic():
            services.agree_refund(after_sale_id=after_sale.pk, shop=shop, user=merchant)
        after_sale.refresh_from_db()
        return after_sale
    return apply(shop)


@pytest.mark.parametrize("name", list(ACTIONS))
def test_an_action_posted_from_a_stale_page_is_refused_and_changes_nothing(en, shop, merchant, name):
    after_sale = eligible(name, shop, merchant)
    stale_version = after_sale.version
    with transaction.atomic():  # someone else changed the after-sale since the page was opened
        services.flag_and_remark(shop=shop, user=merchant, versions={after_sale.pk: stale_version}, remark="new")
    after_sale.refresh_from_db()
    before = state(after_sale)

    response = post(en, name, after_sale, action_data(name), version=stale_version)

    assert messages_of(response) == [
        (
            "error",
            f"After-sale {after_sale.after_sale_no} changed since you opened the page; nothing was done. "
            "Reload and try again.",
        )
    ]
    assert state(after_sale) == before


@pytest.mark.parametrize("name", list(ACTIONS))
def test_an_action_on_another_shops_after_sale_is_a_404_and_changes_nothing(
    client, shop, merchant, other_merchant, name
):
    after_sale = eligible(name, shop, merchant)
    before = state(after_sale)
    client.force_login(other_merchant)

    response = post(client, name, after_sale, action_data(name), follow=False)

    assert response.status_code == 404
    assert state(after_sale) == before


@pytest.mark.parametrize("name", list(ACTIONS))
def test_actions_take_posts_only(client, shop, merchant, name):
    after_sale = apply(shop)
    client.force_login(merchant)
    assert client.get(url(name, after_sale)).status_code == 405


@pytest.mark.parametrize("name", list(ACTIONS))
def test_an_anonymous_post_is_sent_to_log_in_and_changes_nothing(client, shop, name):
    after_sale = apply(shop)
    before = state(after_sale)

    response = post(client, name, after_sale, action_data(name), follow=False)

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={url(name, after_sale)}"
    assert state(after_sale) == before


# --- evidence images are served to their shop only -----------------------------------------------
@pytest.fixture
def rejected(en, shop):
    after_sale = apply(shop)
    post(en, "reject", after_sale, reject_data(upload("a.png", png_bytes())))
    return after_sale, EvidenceImage.objects.get()


def evidence_url(after_sale, image):
    return reverse("aftersales:evidence", kwargs={"after_sale_no": after_sale.after_sale_no, "pk": image.pk})


def test_an_evidence_image_is_served_to_its_shop_as_an_image(en, rejected):
    after_sale, image = rejected

    response = en.get(evidence_url(after_sale, image))

    assert response.status_code == 200
    assert (response["Content-Type"], response["X-Content-Type-Options"]) == ("image/png", "nosniff")
    assert response["Cache-Control"] == "private, max-age=3600"
    assert b"".join(response.streaming_content) == png_bytes()


def test_an_evidence_image_is_a_404_under_another_after_sale(en, shop, rejected):
    _after_sale, image = rejected
    other = apply(shop, no="AS-OTHER")

    assert en.get(evidence_url(other, image)).status_code == 404


def test_an_evidence_image_is_a_404_for_another_shop(client, other_merchant, rejected):
    after_sale, image = rejected
    client.force_login(other_merchant)

    assert client.get(evidence_url(after_sale, image)).status_code == 404


def test_evidence_is_not_reachable_under_a_public_media_url(client, rejected):
    _after_sale, image = rejected
    assert client.get(f"/{settings.MEDIA_URL}{image.image.name}").status_code == 404
