"""Factories of the settlement tests.

Statements, reconciliation and fees: fee charges written straight to the database (interception is
not under test there), statements moved through the real services, and a snapshot.
Claims: interceptions replayed through the real services, claims filed through the service, evidence
images, and a snapshot (`state`) to assert that a refusal changed nothing.
"""

import itertools
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction

from aftersales import services as aftersales_services
from aftersales.models import AfterSale
from interception import services as interception_services
from interception.models import FeeCharge, ServiceOrder
from settlement.claims import services as claims
from settlement.models import (
    Claim,
    ClaimEvidence,
    ClaimLog,
    Reconciliation,
    ReconciliationRow,
    Statement,
    StatementLine,
    StatementLog,
)
from settlement.statements import services as statements
from shop.models import Order, Outlet, Parcel, Shop
from tests.aftersales.factories import make_after_sale
from tests.shop.factories import at, make_order, make_parcel

_seq = itertools.count(1)

# --- statements, reconciliation, fees ----------------------------------------------------------------

OCTOBER = date(2026, 10, 1)
AFTER_OCTOBER = at("2026-11-01 00:30")  # when the October close runs


def make_charge(
    shop: Shop,
    outlet: Outlet,
    *,
    when: datetime,
    amount: str = "2.50",
    mode: str = ServiceOrder.Mode.OFFLINE,
    tracking_no: str = "",
) -> FeeCharge:
    """A succeeded interception of a parcel sent from `outlet`, and its fee charge."""
    n = next(_seq)
    order = make_order(shop, order_no=f"O-FEE-{n}", status=Order.Status.SHIPPED)
    parcel = make_parcel(
        order, outlet=outlet, tracking_no=tracking_no or f"YT{n:010d}", status=Parcel.Status.INTERCEPTED
    )
    after_sale = make_after_sale(order, parcel=parcel, status=AfterSale.Status.REFUNDED)
    service_order = ServiceOrder.objects.create(
        shop=shop,
        after_sale=after_sale,
        parcel=parcel,
        courier=outlet.courier,
        outlet=outlet,
        mode=mode,
        fee=Decimal(amount),
        via=ServiceOrder.Via.DETAIL,
        status=ServiceOrder.Status.RETURNED,
        succeeded_at=when,
    )
    return FeeCharge.objects.create(
        shop=shop,
        service_order=service_order,
        courier=outlet.courier,
        outlet=outlet,
        mode=mode,
        amount=Decimal(amount),
        charged_at=when,
    )


def issued_statement(shop: Shop, outlet: Outlet, *, fees=("2.50", "2.50", "3.00"), month: date = OCTOBER):
    """An issued statement of `month` with one line per fee (October 2026 by default)."""
    for day, fee in enumerate(fees, start=2):
        make_charge(shop, outlet, when=at(f"{month:%Y-%m}-{day:02d} 10:00"), amount=fee)
    statements.close_month(month=month, now=statements.month_start(statements.add_months(month, 1)))
    return Statement.objects.get(shop=shop, outlet=outlet, month=month)


def statement_in(status: str, shop: Shop, outlet: Outlet, *, user=None, fees=("2.50", "2.50", "3.00")) -> Statement:
    """An October statement moved to `status` through the services."""
    if status == Statement.Status.OPEN:
        for day, fee in enumerate(fees, start=2):
            make_charge(shop, outlet, when=at(f"2026-10-{day:02d} 10:00"), amount=fee)
        return statements.refresh_open_statement(shop=shop, outlet=outlet, month=OCTOBER)
    statement = issued_statement(shop, outlet, fees=fees)
    if status in (Statement.Status.CONFIRMED, Statement.Status.SETTLED):
        statements.confirm_statement(statement_id=statement.pk, outlet=outlet, user=user)
    if status == Statement.Status.DISPUTED:
        statements.dispute_statement(statement_id=statement.pk, outlet=outlet, user=user, note="two lines are wrong")
    if status == Statement.Status.SETTLED:
        statement.refresh_from_db()
        statements.record_payment(
            statement_id=statement.pk, shop=shop, user=user, reference="BANK-1", amount=statement.total
        )
    statement.refresh_from_db()
    return statement


def snapshot() -> dict:
    """Everything a statement or reconciliation write may touch, to assert that a refusal changed nothing."""
    return {
        "statements": sorted(
            Statement.objects.values_list(
                "pk",
                "status",
                "line_count",
                "total",
                "dispute_note",
                "payment_reference",
                "paid_amount",
                "issued_at",
                "answered_at",
                "settled_at",
            )
        ),
        "lines": sorted(StatementLine.objects.values_list("pk", "statement_id", "fee_charge_id", "amount")),
        "logs": sorted(StatementLog.objects.values_list("pk", flat=True)),
        "reconciliations": Reconciliation.objects.count(),
        "rows": ReconciliationRow.objects.count(),
    }


# --- claims ------------------------------------------------------------------------------------------

_claim_seq = itertools.count(1)
SUCCESS = at("2026-11-01 10:00")
IN_WINDOW = SUCCESS + timedelta(days=10)
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    b"\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x35\x81\x84\x00\x00\x00\x00IEND\xaeB`\x82"
)


def png(name: str = "evidence.png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, PNG, content_type="image/png")


def intercepted(
    shop, outlet, *, succeeded_at=SUCCESS, status="return_failed", failure="lost", amount="129.00"
) -> ServiceOrder:
    """A refund-only after-sale whose parcel was intercepted at `succeeded_at` (real services), then `status`."""
    n = next(_claim_seq)
    order = make_order(
        shop,
        order_no=f"CL-O-{n}",
        status=Order.Status.SHIPPED,
        lines=[{"paid_amount": amount, "title": "保温杯"}],
        paid_at=succeeded_at - timedelta(days=3),
    )
    make_parcel(order, outlet=outlet, tracking_no=f"YTCL{n:06d}", shipped_at=succeeded_at - timedelta(days=2))
    with transaction.atomic():
        after_sale = aftersales_services.apply_for_after_sale(
            after_sale_no=f"AS-CL-{n}",
            order_no=order.order_no,
            line_no="1",
            type="refund_only",
            reason="not_received",
            amount=Decimal(amount),
            note="",
            at=succeeded_at - timedelta(hours=2),
        )
        (service_order,), _skipped = interception_services.launch_interceptions(
            shop=shop, user=None, after_sale_ids=[after_sale.pk], via="detail", enqueue=False
        )
    if status == "failed":
        interception_services.apply_result(
            service_order_id=service_order.pk, status="failed", occurred_at=succeeded_at, reason="signed"
        )
        return ServiceOrder.objects.get(pk=service_order.pk)
    interception_services.apply_result(service_order_id=service_order.pk, status="succeeded", occurred_at=succeeded_at)
    if status in ("returning", "returned", "return_failed"):
        interception_services.apply_result(
            service_order_id=service_order.pk, status="returning", occurred_at=succeeded_at + timedelta(days=1)
        )
    if status in ("returned", "return_failed"):
        interception_services.apply_result(
            service_order_id=service_order.pk,
            status=status,
            occurred_at=succeeded_at + timedelta(days=3),
            return_failure=failure if status == "return_failed" else "",
        )
    return ServiceOrder.objects.get(pk=service_order.pk)


def file(service_order, user, *, amount="100.00", now=IN_WINDOW, evidence=None, reason="lost", shop=None):
    return claims.file_claim(
        service_order_id=service_order.pk,
        shop=shop or service_order.shop,
        user=user,
        reason=reason,
        amount=Decimal(amount),
        description="包裹退回途中丢失",
        evidence=[png()] if evidence is None else evidence,
        now=now,
    )


def state() -> tuple:
    """Every claim row, history row and evidence row, as values: equal before and after a refusal."""
    return (
        list(Claim.objects.order_by("pk").values()),
        list(ClaimLog.objects.order_by("pk").values()),
        list(ClaimEvidence.objects.order_by("pk").values()),
    )
