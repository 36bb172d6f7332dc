"""The merchant's after-sales services, and the refund ledger that all refunds go through."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from aftersales import ledger, services
from aftersales.models import AfterSale, AfterSaleLog, BuyerNotification, EvidenceImage, RefundEntry
from shop.errors import DomainError, NotFound
from shop.models import Order, OrderLine, Parcel
from tests.aftersales.factories import make_after_sale, snapshot
from tests.shop.factories import make_order, make_parcel

S = AfterSale.Status
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"


def png(name="evidence.png"):
    return SimpleUploadedFile(name, PNG, content_type="image/png")


@pytest.fixture
def order(shop):
    return make_order(
        shop,
        order_no="O-1001",
        status=Order.Status.COMPLETED,
        lines=[{"line_no": "1", "paid_amount": "100.00"}, {"line_no": "2", "paid_amount": "50.00"}],
    )


def line(order, line_no="1") -> OrderLine:
    return order.lines.get(line_no=line_no)


def counters(order):
    order.refresh_from_db()
    return order.refunded_amount, [(x.line_no, x.refunded_amount) for x in order.lines.order_by("line_no")]


# --- agree refund ----------------------------------------------------------------------------------
def test_agree_refund_pays_the_amount_into_the_ledger_and_closes_the_after_sale(order, shop, merchant):
    after_sale = make_after_sale(order, amount="60.00", reason="quality")

    result = services.agree_refund(after_sale_id=after_sale.pk, shop=shop, user=merchant, expected_version=1)

    after_sale.refresh_from_db()
    assert (after_sale.status, after_sale.refunded_amount, after_sale.deadline) == ("refunded", Decimal("60.00"), None)
    assert (after_sale.version, after_sale.last_actor, result.pk) == (2, "merchant", after_sale.pk)
    assert after_sale.closed_at is not None
    entry = RefundEntry.objects.get()
    assert (entry.kind, entry.amount, entry.actor, entry.user, entry.after_sale, entry.line) == (
        "refund_only",
        Decimal("60.00"),
        "merchant",
        merchant,
        after_sale,
        line(order),
    )
    assert counters(order) == (Decimal("60.00"), [("1", Decimal("60.00")), ("2", Decimal("0.00"))])
    assert list(after_sale.logs.values_list("action", "actor", "user", "from_status", "to_status")) == [
        ("refund", "merchant", merchant.pk, "", ""),
        ("status", "merchant", merchant.pk, "pending_merchant", "refunded"),
        ("notification", "platform", None, "", ""),
    ]
    notification = BuyerNotification.objects.get()
    assert (notification.kind, notification.payload["amount"], notification.status) == ("refunded", "60.00", "pending")


def test_agree_refund_of_a_price_protection_is_a_price_protection_refund(order, shop, merchant):
    after_sale = make_after_sale(order, type="price_protection", reason="price_drop", amount="8.00")

    services.agree_refund(after_sale_id=after_sale.pk, shop=shop, user=merchant)

    assert RefundEntry.objects.values_list("kind", "amount").get() == ("price_protection", Decimal("8.00"))


def test_agree_refund_in_refund_after_refusal_is_allowed(shop, merchant, yto_outlet):
    order = make_order(shop, status=Order.Status.SHIPPED)
    parcel = make_parcel(order, outlet=yto_outlet)
    after_sale = make_after_sale(order, status=S.REFUND_AFTER_REFUSAL, parcel=parcel)

    services.agree_refund(after_sale_id=after_sale.pk, shop=shop, user=merchant)

    assert AfterSale.objects.get().status == "refunded"


@pytest.mark.parametrize(
    "status, type",
    [
        (S.PENDING_MERCHANT, "return_refund"),
        (S.AWAITING_BUYER_RETURN, "return_refund"),
        (S.AWAITING_MERCHANT_RECEIPT, "return_refund"),
        (S.ARBITRATION, "refund_only"),
        (S.REFUNDED, "refund_only"),
        (S.REJECTED, "refund_only"),
        (S.CANCELLED, "refund_only"),
        (S.CLOSED, "refund_only"),
    ],
)
def test_agree_refund_is_refused_where_the_rules_say_so_and_changes_nothing(order, shop, merchant, status, type):
    after_sale = make_after_sale(order, status=status, type=type, reason="quality")
    before = snapshot()

    with pytest.raises(DomainError) as error:
        services.agree_refund(after_sale_id=after_sale.pk, shop=shop, user=merchant)

    assert error.value.code == "not_allowed"
    assert snapshot() == before


def test_agree_refund_above_what_is_left_on_the_line_is_refused(order, shop, merchant):
    after_sale = make_after_sale(order, amount="100.00", reason="quality")
    ledger.record_refund(
        line=line(order), after_sale=None, kind="small_payment", amount=Decimal("0.01"), actor="merchant",
        idempotency_key="k",
    )  # fmt: skip
    before = snapshot()

    with pytest.raises(DomainError) as error:
        services.agree_refund(after_sale_id=after_sale.pk, shop=shop, user=merchant)

    assert error.value.code == "not_allowed"
    assert snapshot() == before


def test_agree_refund_from_a_stale_page_is_refused_and_changes_nothing(order, shop, merchant):
    after_sale = make_after_sale(order)
    services.flag_and_remark(shop=shop, user=merchant, versions={after_sale.pk: 1}, flag="red")
    before = snapshot()

    with pytest.raises(DomainError) as error:
        services.agree_refund(after_sale_id=after_sale.pk, shop=shop, user=merchant, expected_version=1)

    assert error.value.code == "stale"
    assert "AS-" in error.value.message
    assert snapshot() == before


def test_another_shops_after_sale_is_not_found(order, other_shop, other_merchant):
    after_sale = make_after_sale(order)
    before = snapshot()

    with pytest.raises(NotFound):
        services.agree_refund(after_sale_id=after_sale.pk, shop=other_shop, user=other_merchant)
    with pytest.raises(NotFound):
        services.flag_and_remark(shop=other_shop, user=other_merchant, versions={after_sale.pk: 1}, flag="red")
    with pytest.raises(NotFound):
        services.send_after_sale_card(shop=other_shop, user=other_merchant, line_id=after_sale.line_id)

    assert snapshot() == before


# --- agree return, confirm receipt -----------------------------------------------------------------
def test_agree_return_asks_the_buyer_to_ship_within_7_days(order, shop, merchant):
    after_sale = make_after_sale(order, type="return_refund", reason="quality")
    start = timezone.now()

    services.agree_return(after_sale_id=after_sale.pk, shop=shop, user=merchant, expected_version=1)

    after_sale.refresh_from_db()
    assert (after_sale.status, after_sale.last_actor, after_sale.version) == ("awaiting_buyer_return", "merchant", 2)
    assert start + timedelta(days=7) <= after_sale.deadline <= timezone.now() + timedelta(days=7)
    assert after_sale.logs.get(action="status").to_status == "awaiting_buyer_return"
    assert BuyerNotification.objects.get().kind == "return_agreed"
    assert RefundEntry.objects.count() == 0


@pytest.mark.parametrize(
    "status, type",
    [(S.PENDING_MERCHANT, "refund_only"), (S.AWAITING_BUYER_RETURN, "return_refund"), (S.REFUNDED, "return_refund")],
)
def test_agree_return_is_refused_outside_a_pending_return_and_refund(order, shop, merchant, status, type):
    after_sale = make_after_sale(order, status=status, type=type, reason="quality")
    before = snapshot()

    with pytest.raises(DomainError):
        services.agree_return(after_sale_id=after_sale.pk, shop=shop, user=merchant)

    assert snapshot() == before


def test_confirm_receipt_refunds_a_return_and_refund(order, shop, merchant):
    after_sale = make_after_sale(order, type="return_refund", reason="quality", status=S.AWAITING_MERCHANT_RECEIPT)

    services.confirm_receipt_and_refund(after_sale_id=after_sale.pk, shop=shop, user=merchant, expected_version=1)

    after_sale.refresh_from_db()
    assert (after_sale.status, after_sale.refunded_amount) == ("refunded", Decimal("100.00"))
    assert RefundEntry.objects.values_list("kind", "amount", "actor").get() == (
        "return_refund",
        Decimal("100.00"),
        "merchant",
    )
    assert counters(order) == (Decimal("100.00"), [("1", Decimal("100.00")), ("2", Decimal("0.00"))])


@pytest.mark.parametrize("status", [S.PENDING_MERCHANT, S.AWAITING_BUYER_RETURN, S.CLOSED])
def test_confirm_receipt_before_the_goods_are_on_their_way_back_is_refused(order, shop, merchant, status):
    after_sale = make_after_sale(order, type="return_refund", reason="quality", status=status)
    before = snapshot()

    with pytest.raises(DomainError):
        services.confirm_receipt_and_refund(after_sale_id=after_sale.pk, shop=shop, user=merchant)

    assert snapshot() == before


# --- reject ----------------------------------------------------------------------------------------
def test_reject_with_reason_and_evidence(order, shop, merchant):
    after_sale = make_after_sale(order, reason="quality")

    services.reject_after_sale(
        after_sale_id=after_sale.pk,
        shop=shop,
        user=merchant,
        reason="not_as_claimed",
        note="照片显示完好",
        evidence=[png("a.png"), png("b.png")],
        expected_version=1,
    )

    after_sale.refresh_from_db()
    assert (after_sale.status, after_sale.reject_reason, after_sale.reject_note, after_sale.deadline) == (
        "rejected",
        "not_as_claimed",
        "照片显示完好",
        None,
    )
    assert after_sale.last_actor == "merchant"
    images = list(EvidenceImage.objects.order_by("pk"))
    assert [(i.content_type, i.size, i.uploaded_by) for i in images] == [("image/png", len(PNG), merchant)] * 2
    assert images[0].image.read() == PNG
    status_log = after_sale.logs.get(action="status")
    assert (status_log.actor, status_log.user, status_log.to_status) == ("merchant", merchant, "rejected")
    notification = BuyerNotification.objects.get()
    assert (notification.kind, notification.payload["note"]) == ("rejected", "照片显示完好")
    assert RefundEntry.objects.count() == 0


@pytest.mark.parametrize(
    "reason, evidence, code",
    [("not_as_claimed", [], "evidence_required"), ("because", [png()], "invalid_reason")],
)
def test_reject_needs_a_listed_reason_and_evidence(order, shop, merchant, reason, evidence, code):
    after_sale = make_after_sale(order, reason="quality")
    before = snapshot()

    with pytest.raises(DomainError) as error:
        services.reject_after_sale(
            after_sale_id=after_sale.pk, shop=shop, user=merchant, reason=reason, note="", evidence=evidence
        )

    assert error.value.code == code
    assert snapshot() == before


def test_reject_while_the_platform_waits_for_the_refusal_is_refused(shop, merchant, yto_outlet):
    order = make_order(shop, status=Order.Status.SHIPPED)
    parcel = make_parcel(order, outlet=yto_outlet, status=Parcel.Status.REFUSED)
    after_sale = make_after_sale(order, status=S.REFUND_AFTER_REFUSAL, parcel=parcel)
    before = snapshot()

    with pytest.raises(DomainError) as error:
        services.reject_after_sale(
            after_sale_id=after_sale.pk, shop=shop, user=merchant, reason="goods_signed", note="", evidence=[png()]
        )

    assert error.value.code == "not_allowed"
    assert snapshot() == before


def test_reject_from_a_stale_page_is_refused(order, shop, merchant):
    after_sale = make_after_sale(order, reason="quality")
    AfterSale.objects.filter(pk=after_sale.pk).update(version=2)
    before = snapshot()

    with pytest.raises(DomainError) as error:
        services.reject_after_sale(
            after_sale_id=after_sale.pk,
            shop=shop,
            user=merchant,
            reason="other",
            note="",
            evidence=[png()],
            expected_version=1,
        )

    assert error.value.code == "stale"
    assert snapshot() == before


# --- small payment ---------------------------------------------------------------------------------
def test_small_payment_goes_into_the_ledger_without_closing_the_after_sale(order, shop, merchant):
    after_sale = make_after_sale(order, reason="quality")

    services.pay_small_amount(
        after_sale_id=after_sale.pk,
        shop=shop,
        user=merchant,
        amount=Decimal("12.50"),
        reason="运费补偿",
        idempotency_key="k1",
    )

    after_sale.refresh_from_db()
    assert (after_sale.status, after_sale.refunded_amount, after_sale.version) == ("pending_merchant", 0, 2)
    entry = RefundEntry.objects.get()
    assert (entry.kind, entry.amount, entry.actor, entry.user, entry.after_sale, entry.reason) == (
        "small_payment",
        Decimal("12.50"),
        "merchant",
        merchant,
        None,
        "运费补偿",
    )
    assert counters(order) == (Decimal("12.50"), [("1", Decimal("12.50")), ("2", Decimal("0.00"))])
    assert after_sale.logs.get(action="refund").message == "Small payment of 12.50 yuan: 运费补偿"


def test_small_payment_asked_twice_with_one_key_is_paid_and_logged_once(order, shop, merchant):
    after_sale = make_after_sale(order, reason="quality")
    pay = dict(after_sale_id=after_sale.pk, shop=shop, user=merchant, amount=Decimal("60.00"), reason="补偿")

    services.pay_small_amount(**pay, idempotency_key="click-1")
    before = snapshot()
    services.pay_small_amount(**pay, idempotency_key="click-1")  # the double click: 40.00 left, still no error

    assert snapshot() == before
    assert RefundEntry.objects.count() == 1
    assert AfterSaleLog.objects.filter(action="refund").count() == 1


@pytest.mark.parametrize("amount", ["100.01", "150.00"])
def test_small_payment_above_what_is_left_on_the_line_is_refused(order, shop, merchant, amount):
    after_sale = make_after_sale(order, reason="quality")
    before = snapshot()

    with pytest.raises(DomainError) as error:
        services.pay_small_amount(
            after_sale_id=after_sale.pk,
            shop=shop,
            user=merchant,
            amount=Decimal(amount),
            reason="",
            idempotency_key="k",
        )

    assert error.value.code == "not_allowed"
    assert snapshot() == before


# --- flag and remark -------------------------------------------------------------------------------
def test_flag_and_remark_many_at_once(order, shop, merchant):
    first = make_after_sale(order, line=line(order, "1"))
    second = make_after_sale(order, line=line(order, "2"))

    rows = services.flag_and_remark(
        shop=shop, user=merchant, versions={first.pk: 1, second.pk: 1}, flag="yellow", remark="11-23 已拦截"
    )

    assert [(a.after_sale_no, a.flag, a.remark, a.version) for a in rows] == [
        (first.after_sale_no, "yellow", "11-23 已拦截", 2),
        (second.after_sale_no, "yellow", "11-23 已拦截", 2),
    ]
    assert list(AfterSaleLog.objects.filter(after_sale=first).values_list("action", "actor", "user")) == [
        ("flag", "merchant", merchant.pk),
        ("remark", "merchant", merchant.pk),
    ]


def test_flag_and_remark_changing_nothing_does_not_bump_the_version(order, shop, merchant):
    after_sale = make_after_sale(order)
    services.flag_and_remark(shop=shop, user=merchant, versions={after_sale.pk: 1}, flag="red")
    before = snapshot()

    services.flag_and_remark(shop=shop, user=merchant, versions={after_sale.pk: 2}, flag="red")

    assert snapshot() == before


def test_flag_and_remark_with_one_stale_page_changes_none_of_them(order, shop, merchant):
    first = make_after_sale(order, line=line(order, "1"))
    second = make_after_sale(order, line=line(order, "2"))
    services.flag_and_remark(shop=shop, user=merchant, versions={second.pk: 1}, remark="先看")
    before = snapshot()

    with pytest.raises(DomainError) as error:
        services.flag_and_remark(shop=shop, user=merchant, versions={first.pk: 1, second.pk: 1}, flag="red")

    assert error.value.code == "stale"
    assert second.after_sale_no in error.value.message
    assert snapshot() == before


@pytest.mark.parametrize(
    "kwargs, code",
    [
        ({"flag": "pink"}, "invalid_flag"),
        ({}, "nothing_to_do"),
        ({"flag": "red", "versions": {}}, "nothing_selected"),
    ],
)
def test_flag_and_remark_refusals(order, shop, merchant, kwargs, code):
    after_sale = make_after_sale(order)
    before = snapshot()

    with pytest.raises(DomainError) as error:
        services.flag_and_remark(shop=shop, user=merchant, **{"versions": {after_sale.pk: 1}, **kwargs})

    assert error.value.code == code
    assert snapshot() == before


def test_clearing_the_flag(order, shop, merchant):
    after_sale = make_after_sale(order)
    services.flag_and_remark(shop=shop, user=merchant, versions={after_sale.pk: 1}, flag="red")

    services.flag_and_remark(shop=shop, user=merchant, versions={after_sale.pk: 2}, flag="")

    assert AfterSale.objects.values_list("flag", "version").get() == ("", 3)


# --- the after-sale card ---------------------------------------------------------------------------
def test_send_after_sale_card_when_the_buyer_may_apply(order, shop, merchant):
    notification = services.send_after_sale_card(shop=shop, user=merchant, line_id=line(order).pk)

    assert (notification.kind, notification.after_sale, notification.line) == ("card", None, line(order))
    assert notification.payload["sent_by"] == merchant.username
    assert notification.payload["order_no"] == "O-1001"


def _five_applications(order):
    for status in ["cancelled", "cancelled", "refunded", "rejected", "cancelled"]:
        make_after_sale(order, line=line(order, "2"), status=status, amount="1.00")


def _open_after_sale(order):
    make_after_sale(order, line=line(order, "1"), status=S.AWAITING_BUYER_RETURN, type="return_refund")


def _fully_refunded(order):
    for line_no, amount in (("1", "100.00"), ("2", "50.00")):
        ledger.record_refund(
            line=line(order, line_no), after_sale=None, kind="small_payment", amount=Decimal(amount), actor="merchant",
            idempotency_key=f"k{line_no}",
        )  # fmt: skip


def _repeat_not_domestic(order):
    OrderLine.objects.filter(pk=line(order).pk).update(domestic_physical=False)
    make_after_sale(order, line=line(order, "2"), status="cancelled")


def _unpaid(order):
    Order.objects.filter(pk=order.pk).update(status=Order.Status.PENDING_PAYMENT)


@pytest.mark.parametrize(
    "setup, code",
    [
        (_unpaid, "order_status"),
        (_five_applications, "application_limit"),
        (_fully_refunded, "nothing_refundable"),
        (_repeat_not_domestic, "not_domestic_physical"),
        (_open_after_sale, "open_after_sale_exists"),
    ],
)
def test_send_after_sale_card_is_refused_when_the_application_rules_refuse(order, shop, merchant, setup, code):
    setup(order)
    before = snapshot()

    with pytest.raises(DomainError) as error:
        services.send_after_sale_card(shop=shop, user=merchant, line_id=line(order).pk)

    assert error.value.code == code
    assert snapshot() == before


def test_application_facts_count_cancelled_applications(order):
    for status in ["cancelled", "refunded", "cancelled"]:
        make_after_sale(order, line=line(order, "2"), status=status, amount="1.00")
    make_after_sale(order, line=line(order, "1"), status=S.PENDING_MERCHANT)

    facts = services.application_facts(Order.objects.get(pk=order.pk), line(order, "2"))

    assert (facts.applications_so_far, facts.line_has_open_after_sale) == (4, False)
    assert services.application_facts(order, line(order, "1")).line_has_open_after_sale is True


# --- the ledger ------------------------------------------------------------------------------------
def refund(line_, amount, key, after_sale=None, kind="small_payment"):
    return ledger.record_refund(
        line=line_, after_sale=after_sale, kind=kind, amount=Decimal(amount), actor="merchant", idempotency_key=key
    )


def test_record_refund_with_one_idempotency_key_twice_records_one_refund(order):
    first = refund(line(order), "30.00", "same-key")

    second = refund(line(order), "30.00", "same-key")

    assert second.pk == first.pk
    assert RefundEntry.objects.count() == 1
    assert counters(order) == (Decimal("30.00"), [("1", Decimal("30.00")), ("2", Decimal("0.00"))])


def test_record_refund_up_to_exactly_what_was_paid(order):
    refund(line(order), "99.99", "a")

    refund(line(order), "0.01", "b")

    assert counters(order) == (Decimal("100.00"), [("1", Decimal("100.00")), ("2", Decimal("0.00"))])


@pytest.mark.parametrize("amount", ["100.01", "70.01"])
def test_record_refund_beyond_what_the_line_paid_is_refused_and_changes_nothing(order, amount):
    refund(line(order), "30.00", "first")
    before = snapshot()

    with pytest.raises(DomainError) as error:
        refund(line(order), amount, "second")

    assert error.value.code == "amount_exceeds_refundable"
    assert snapshot() == before
    assert counters(order) == (Decimal("30.00"), [("1", Decimal("30.00")), ("2", Decimal("0.00"))])


def test_record_refund_beyond_what_the_order_paid_is_refused_after_the_line_passed(order):
    # An order whose counter is ahead of its lines (e.g. an off-line refund recorded on the order):
    # the line's guard passes, the order's refuses, and the line's increment is rolled back.
    Order.objects.filter(pk=order.pk).update(refunded_amount=Decimal("120.00"))
    before = snapshot()

    with pytest.raises(DomainError):
        refund(line(order), "40.00", "k")

    assert snapshot() == before
    assert counters(order) == (Decimal("120.00"), [("1", Decimal("0.00")), ("2", Decimal("0.00"))])


def test_record_refund_beyond_the_after_sales_amount_is_refused_and_changes_nothing(order):
    after_sale = make_after_sale(order, amount="30.00")
    before = snapshot()

    with pytest.raises(DomainError):
        refund(line(order), "30.01", "k", after_sale=after_sale, kind="refund_only")

    assert snapshot() == before
    assert counters(order) == (Decimal("0.00"), [("1", Decimal("0.00")), ("2", Decimal("0.00"))])
    assert AfterSale.objects.get().refunded_amount == Decimal("0.00")


@pytest.mark.parametrize("amount", ["0.00", "-1.00"])
def test_record_refund_of_nothing_is_refused(order, amount):
    with pytest.raises(DomainError) as error:
        refund(line(order), amount, "k")

    assert error.value.code == "invalid_amount"
    assert RefundEntry.objects.count() == 0


def test_record_refund_updates_the_callers_line_and_after_sale(order):
    after_sale = make_after_sale(order, amount="30.00")
    the_line = line(order)

    entry = refund(the_line, "30.00", "k", after_sale=after_sale, kind="refund_only")

    assert (the_line.refunded_amount, after_sale.refunded_amount) == (Decimal("30.00"), Decimal("30.00"))
    assert (entry.shop_id, entry.order_id) == (order.shop_id, order.pk)
