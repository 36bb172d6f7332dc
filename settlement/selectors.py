"""Reads of the interception fee ledger: a shop's fees by month, courier and mode; the operators' payables.

A merchant sees only the shop's own fee charges; the operators' platform-wide figures are at the end.
Statements and claims have their own selectors (`statements.selectors`, `claims.selectors`).
"""

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from django.db.models import Count, QuerySet, Sum
from django.db.models.functions import TruncMonth

from interception.models import FeeCharge, ServiceOrder
from shop.models import Courier, Shop

from .statements.rules import SHANGHAI, add_months, month_start


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
