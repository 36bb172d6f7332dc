"""Helpers of the statement, reconciliation and fee tests: fee charges written straight to the database
(interception is not under test here), statements moved through the real services, and a snapshot.
"""

import itertools
from datetime import date, datetime
from decimal import Decimal

from aftersales.models import AfterSale
from interception.models import FeeCharge, ServiceOrder
from settlement import statements
from settlement.models import Reconciliation, ReconciliationRow, Statement, StatementLine, StatementLog
from shop.models import Order, Outlet, Parcel, Shop
from tests.aftersales.factories import make_after_sale
from tests.shop.factories import at, make_order, make_parcel

_seq = itertools.count(1)
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
