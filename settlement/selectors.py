"""Reads for the settlement pages, always scoped to the viewer: a merchant's shop or an outlet.

Detail views look objects up inside these querysets: another shop's or outlet's is a 404, exactly
like a missing one. The operators' platform-wide figures are at the end.
"""

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from django.db.models import Count, Prefetch, QuerySet, Sum
from django.db.models.functions import TruncMonth

from interception.models import FeeCharge, ServiceOrder
from shop.models import Courier, Outlet, Shop

from .models import Reconciliation, ReconciliationRow, Statement, StatementLine, StatementLog
from .statements import OUTLET_VISIBLE_STATUSES, SHANGHAI, add_months, month_start

_LOGS = Prefetch("logs", queryset=StatementLog.objects.select_related("user").order_by("at", "id"))


# --- statements ------------------------------------------------------------------------------------


def statements_for_shop(*, shop: Shop) -> QuerySet[Statement]:
    """The shop's statements, newest month first, with the outlet joined."""
    return Statement.objects.filter(shop=shop).select_related("outlet__courier").order_by("-month", "outlet__code")


def statement_detail_for_shop(*, shop: Shop) -> QuerySet[Statement]:
    return statements_for_shop(shop=shop).select_related("shop").prefetch_related(_LOGS)


def statements_for_outlet(*, outlet: Outlet) -> QuerySet[Statement]:
    """The outlet's statements of closed months (an open one is still the merchant's draft)."""
    return (
        Statement.objects.filter(outlet=outlet, status__in=OUTLET_VISIBLE_STATUSES)
        .select_related("shop", "outlet__courier")
        .order_by("-month", "shop__name", "id")
    )


def statement_detail_for_outlet(*, outlet: Outlet) -> QuerySet[Statement]:
    return statements_for_outlet(outlet=outlet).prefetch_related(_LOGS)


def statement_lines(*, statement: Statement) -> QuerySet[StatementLine]:
    """The statement's lines in the order they happened (the caller already holds a scoped statement)."""
    return StatementLine.objects.filter(statement=statement).order_by("succeeded_at", "id")


def outlets_of_shop_statements(*, shop: Shop) -> QuerySet[Outlet]:
    """Outlets the shop has statements with: its filter's choices reveal no other outlet."""
    return Outlet.objects.filter(statements__shop=shop).distinct().order_by("code")


def shops_of_outlet_statements(*, outlet: Outlet) -> QuerySet[Shop]:
    """Shops with a statement the outlet sees: its filter's choices reveal no other shop."""
    return (
        Shop.objects.filter(statements__outlet=outlet, statements__status__in=OUTLET_VISIBLE_STATUSES)
        .distinct()
        .order_by("name")
    )


def statement_counts_for_shop(*, shop: Shop) -> dict[str, int]:
    """How many of the shop's statements are in each status (every status present)."""
    counts = dict.fromkeys(Statement.Status.values, 0)
    counts.update(
        Statement.objects.filter(shop=shop).values("status").annotate(n=Count("id")).values_list("status", "n")
    )
    return counts


# --- reconciliations -------------------------------------------------------------------------------


def reconciliations_for_shop(*, shop: Shop) -> QuerySet[Reconciliation]:
    return (
        Reconciliation.objects.filter(statement__shop=shop)
        .select_related("statement__outlet", "uploaded_by")
        .order_by("-created_at", "-id")
    )


def reconciliation_rows(*, reconciliation: Reconciliation, differences_only: bool = False):
    rows = ReconciliationRow.objects.filter(reconciliation=reconciliation)
    if differences_only:
        rows = rows.exclude(kind=ReconciliationRow.Kind.MATCHED)
    return rows.order_by("kind", "bill_line", "tracking_no", "id")


# --- fee ledger ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FeeFilters:
    month_from: date | None = None
    month_to: date | None = None
    courier: Courier | None = None
    mode: str = ""


@dataclass
class FeeLedger:
    """Grouped rows (month, courier, mode, count, total) and their totals."""

    rows: list[dict] = field(default_factory=list)

    @property
    def count(self) -> int:
        return sum(row["count"] for row in self.rows)

    @property
    def total(self) -> Decimal:
        return sum((row["total"] for row in self.rows), Decimal("0.00"))

    def by_mode(self) -> list[dict]:
        """Count and total per settlement mode, every mode present."""
        result = []
        for mode, label in ServiceOrder.Mode.choices:
            rows = [row for row in self.rows if row["mode"] == mode]
            result.append(
                {
                    "mode": mode,
                    "label": label,
                    "count": sum(row["count"] for row in rows),
                    "total": sum((row["total"] for row in rows), Decimal("0.00")),
                }
            )
        return result


def _filtered_fees(queryset: QuerySet[FeeCharge], filters: FeeFilters) -> QuerySet[FeeCharge]:
    if filters.month_from:
        queryset = queryset.filter(charged_at__gte=month_start(filters.month_from))
    if filters.month_to:
        queryset = queryset.filter(charged_at__lt=month_start(add_months(filters.month_to, 1)))
    if filters.courier:
        queryset = queryset.filter(courier=filters.courier)
    if filters.mode:
        queryset = queryset.filter(mode=filters.mode)
    return queryset


def _month_rows(queryset: QuerySet[FeeCharge], *group: str) -> list[dict]:
    rows = list(
        queryset.annotate(month=TruncMonth("charged_at", tzinfo=SHANGHAI))
        .values("month", *group)
        .annotate(count=Count("id"), total=Sum("amount"))
        .order_by("-month", *group)
    )
    for row in rows:
        # TruncMonth gives an aware datetime on PostgreSQL and SQLite alike; the page wants the month.
        month = row["month"]
        row["month"] = month.astimezone(SHANGHAI).date() if isinstance(month, datetime) else month
    return rows


def fee_ledger_for_shop(*, shop: Shop, filters: FeeFilters | None = None) -> FeeLedger:
    """The shop's fee charges by month (Asia/Shanghai), courier and settlement mode: one grouped query."""
    queryset = _filtered_fees(FeeCharge.objects.filter(shop=shop), filters or FeeFilters())
    rows = _month_rows(queryset, "courier__code", "courier__name", "mode")
    for row in rows:
        row["mode_label"] = ServiceOrder.Mode(row["mode"]).label
    return FeeLedger(rows=rows)


def online_payable_per_courier(*, filters: FeeFilters | None = None) -> FeeLedger:
    """Platform-wide: online fees deducted from merchants, payable to each courier, per month. One query."""
    queryset = _filtered_fees(FeeCharge.objects.filter(mode=ServiceOrder.Mode.ONLINE), filters or FeeFilters())
    rows = _month_rows(queryset, "courier__code", "courier__name")
    for row in rows:
        row["mode"] = ServiceOrder.Mode.ONLINE
    return FeeLedger(rows=rows)
