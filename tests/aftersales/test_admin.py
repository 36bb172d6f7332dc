"""The operators' admin for after-sales: every page renders, actions call the services, the ledger is sealed."""

from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from aftersales import notifications, services
from aftersales.models import (
    Actor,
    AfterSale,
    AfterSaleLog,
    BulkJob,
    BulkJobRow,
    BuyerNotification,
    EvidenceImage,
    ExportJob,
    RefundEntry,
)
from shop.models import Order, Parcel
from tests.shop.factories import make_operator, make_order, make_parcel

S = AfterSale.Status
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    b"\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x35\x81\x84\x00\x00\x00\x00IEND\xaeB`\x82"
)


def apply(shop, outlet, no, *, parcel_status=Parcel.Status.SIGNED, reason="quality", amount="100.00"):
    order = make_order(shop, status=Order.Status.SHIPPED, lines=[{"paid_amount": "100.00"}])
    make_parcel(order, outlet=outlet, status=parcel_status)
    with transaction.atomic():
        return services.apply_for_after_sale(
            after_sale_no=no,
            order_no=order.order_no,
            line_no="1",
            type=AfterSale.Type.REFUND_ONLY,
            reason=reason,
            amount=Decimal(amount),
            note="",
            at=timezone.now(),
        )


def reject(after_sale, user):
    evidence = SimpleUploadedFile("evidence.png", PNG, content_type="image/png")
    return services.reject_after_sale(
        after_sale_id=after_sale.pk,
        shop=after_sale.shop,
        user=user,
        reason=AfterSale.RejectReason.NOT_AS_CLAIMED,
        note="",
        evidence=[evidence],
    )


@pytest.fixture
def operator(db):
    return make_operator()


@pytest.fixture
def admin_client(client, operator):
    client.force_login(operator)
    return client


@pytest.fixture
def rows(shop, merchant, yto_outlet, operator):
    """One of everything: a refunded, a rejected (with evidence), an escalated and a pending after-sale."""
    refunded = apply(shop, yto_outlet, "AS-REFUNDED")
    services.agree_refund(after_sale_id=refunded.pk, shop=shop, user=merchant)
    rejected = reject(apply(shop, yto_outlet, "AS-REJECTED"), merchant)
    in_arbitration = reject(apply(shop, yto_outlet, "AS-ARBITRATION"), merchant)
    services.escalate_to_arbitration(after_sale_id=in_arbitration.pk, user=operator)
    pending = apply(shop, yto_outlet, "AS-PENDING")
    ExportJob.objects.create(shop=shop, user=merchant, format=ExportJob.Format.CSV)
    job = BulkJob.objects.create(
        shop=shop, user=merchant, kind=BulkJob.Kind.REJECT_SIGNED, versions={}, language="en", created_at=timezone.now()
    )
    BulkJobRow.objects.create(job=job, after_sale=pending, ok=False, reason="not signed for", at=timezone.now())
    return {"refunded": refunded, "rejected": rejected, "arbitration": in_arbitration, "pending": pending}


MODELS = [AfterSale, AfterSaleLog, RefundEntry, BuyerNotification, ExportJob, EvidenceImage, BulkJob]


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model.__name__)
def test_changelist_and_change_page_of_every_aftersales_model_render_for_an_operator(admin_client, rows, model):
    opts = model._meta
    changelist = admin_client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
    change = admin_client.get(
        reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[model.objects.order_by("pk").first().pk])
    )

    assert changelist.status_code == 200
    assert change.status_code == 200


def test_after_sale_search_finds_the_exact_after_sale_or_order_number(admin_client, rows):
    url = reverse("admin:aftersales_aftersale_changelist")

    by_number = admin_client.get(url, {"q": "AS-REJECTED"})
    by_order = admin_client.get(url, {"q": rows["pending"].order.order_no})

    assert [a.after_sale_no for a in by_number.context["cl"].result_list] == ["AS-REJECTED"]
    assert [a.after_sale_no for a in by_order.context["cl"].result_list] == ["AS-PENDING"]


def test_after_sale_change_page_shows_history_and_refunds_read_only(admin_client, rows):
    response = admin_client.get(reverse("admin:aftersales_aftersale_change", args=[rows["refunded"].pk]))

    body = response.content.decode()
    assert 'name="status"' not in body and 'name="amount"' not in body  # nothing to edit
    assert "100.00" in body
    assert str(AfterSaleLog.Action.REFUND.label) in body
    assert 'name="_save"' not in body


def run_action(admin_client, action, *after_sales):
    return admin_client.post(
        reverse("admin:aftersales_aftersale_changelist"),
        {"action": action, "_selected_action": [a.pk for a in after_sales]},
        follow=True,
    )


def test_deciding_for_the_buyer_refunds_through_the_service_with_an_operator_row(admin_client, rows, operator):
    after_sale = rows["arbitration"]

    response = run_action(admin_client, "decide_for_buyer", after_sale)

    after_sale.refresh_from_db()
    assert response.status_code == 200
    assert (after_sale.status, after_sale.refunded_amount, after_sale.last_actor) == (
        S.REFUNDED,
        Decimal("100.00"),
        Actor.OPERATOR,
    )
    row = after_sale.logs.filter(action=AfterSaleLog.Action.STATUS).latest("id")
    assert (row.from_status, row.to_status, row.actor, row.user) == (S.ARBITRATION, S.REFUNDED, "operator", operator)
    entry = RefundEntry.objects.get(after_sale=after_sale)
    assert (entry.amount, entry.actor, entry.user) == (Decimal("100.00"), "operator", operator)
    assert "1 after-sale refunded by platform arbitration." in response.content.decode()


def test_deciding_for_the_merchant_rejects_with_an_operator_row_and_tells_the_buyer(admin_client, rows, operator):
    after_sale = rows["arbitration"]

    run_action(admin_client, "decide_for_merchant", after_sale)

    after_sale.refresh_from_db()
    assert (after_sale.status, after_sale.refunded_amount, after_sale.deadline) == (S.REJECTED, Decimal("0.00"), None)
    row = after_sale.logs.filter(action=AfterSaleLog.Action.STATUS).latest("id")
    assert (row.from_status, row.to_status, row.actor, row.user) == (S.ARBITRATION, S.REJECTED, "operator", operator)
    assert after_sale.notifications.latest("id").kind == BuyerNotification.Kind.REJECTED
    assert not RefundEntry.objects.filter(after_sale=after_sale).exists()


def test_an_arbitration_action_on_an_after_sale_not_in_arbitration_says_why_and_changes_nothing(admin_client, rows):
    pending = rows["pending"]
    before = (pending.status, pending.version, pending.logs.count())

    response = run_action(admin_client, "decide_for_buyer", pending)

    pending.refresh_from_db()
    assert (pending.status, pending.version, pending.logs.count()) == before
    assert not RefundEntry.objects.filter(after_sale=pending).exists()
    assert "AS-PENDING: After-sale AS-PENDING is" in response.content.decode()


def test_escalating_moves_rejected_and_pending_after_sales_to_arbitration(admin_client, rows, operator):
    run_action(admin_client, "escalate", rows["rejected"], rows["pending"])

    for after_sale in (rows["rejected"], rows["pending"]):
        after_sale.refresh_from_db()
        assert (after_sale.status, after_sale.deadline, after_sale.closed_at) == (S.ARBITRATION, None, None)
        row = after_sale.logs.filter(action=AfterSaleLog.Action.STATUS).latest("id")
        assert (row.to_status, row.actor, row.user) == (S.ARBITRATION, "operator", operator)


def test_a_refunded_after_sale_cannot_be_escalated(admin_client, rows):
    refunded = rows["refunded"]

    response = run_action(admin_client, "escalate", refunded)

    refunded.refresh_from_db()
    assert refunded.status == S.REFUNDED
    assert "AS-REFUNDED: " in response.content.decode()


def test_the_refund_ledger_admin_refuses_add_change_and_delete(admin_client, rows):
    entry = RefundEntry.objects.get()
    before = (entry.amount, entry.reason)

    add = admin_client.get(reverse("admin:aftersales_refundentry_add"))
    change = admin_client.post(
        reverse("admin:aftersales_refundentry_change", args=[entry.pk]), {"amount": "1.00", "reason": "x"}
    )
    delete = admin_client.post(reverse("admin:aftersales_refundentry_delete", args=[entry.pk]), {"post": "yes"})
    bulk_delete = admin_client.post(
        reverse("admin:aftersales_refundentry_changelist"),
        {"action": "delete_selected", "_selected_action": [entry.pk], "post": "yes"},
    )

    assert (add.status_code, change.status_code, delete.status_code) == (403, 403, 403)
    assert bulk_delete.status_code == 200  # the action does not exist: the changelist says "no action"
    entry.refresh_from_db()
    assert (entry.amount, entry.reason) == before
    assert RefundEntry.objects.count() == 1


def test_retry_delivery_now_calls_deliver_for_each_selected_notification(admin_client, rows, monkeypatch, settings):
    settings.BUYER_NOTIFICATIONS_URL = "http://platform.invalid/notify"
    sent = []
    monkeypatch.setattr(notifications, "_post", lambda url, payload: sent.append(payload["id"]))
    pending = list(BuyerNotification.objects.filter(status="pending").order_by("pk"))

    response = admin_client.post(
        reverse("admin:aftersales_buyernotification_changelist"),
        {"action": "retry_delivery_now", "_selected_action": [n.pk for n in pending]},
        follow=True,
    )

    assert response.status_code == 200
    assert sent == [f"notification-{n.pk}" for n in pending]
    assert set(BuyerNotification.objects.filter(pk__in=[n.pk for n in pending]).values_list("status", flat=True)) == {
        "delivered"
    }


def test_merchants_cannot_open_the_admin(client, merchant, rows):
    client.force_login(merchant)

    response = client.get(reverse("admin:aftersales_aftersale_changelist"))

    assert response.status_code == 302


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model.__name__)
def test_changelists_take_as_many_queries_for_many_rows_as_for_few(admin_client, rows, merchant, model, yto_outlet):
    url = reverse(f"admin:aftersales_{model._meta.model_name}_changelist")
    with CaptureQueriesContext(connection) as few:
        admin_client.get(url)
    more = reject(apply(rows["pending"].shop, yto_outlet, "AS-MORE-1"), merchant)
    services.escalate_to_arbitration(after_sale_id=more.pk, user=None)
    services.decide_arbitration(after_sale_id=more.pk, user=None, refund=True)
    ExportJob.objects.create(shop=more.shop, user=merchant, format=ExportJob.Format.XLSX)
    BulkJob.objects.create(
        shop=more.shop,
        user=merchant,
        kind=BulkJob.Kind.REJECT_SIGNED,
        versions={},
        language="en",
        created_at=timezone.now(),
    )
    with CaptureQueriesContext(connection) as many:
        admin_client.get(url)

    assert model.objects.count() > 1
    assert len(many) == len(few)
