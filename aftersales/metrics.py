"""Service metrics of one shop (issue 3, item 9), per Asia/Shanghai day over the last N days.

Definitions (the metrics page shows them too):

- **Applications**: after-sales whose buyer applied that day (`applied_at`).
- **Closed**: distinct after-sales that reached a closed status that day (refunded, rejected,
  cancelled by the buyer, closed), read from the status-change history.
- **Rejected by the merchant**: distinct after-sales a merchant user moved to "rejected" that day.
  An operator's arbitration ruling for the merchant is not the merchant's rejection.
- **Rejection rate (售后拒绝率)**: rejected by the merchant ÷ closed, the same day; no closures
  that day: no rate. The 30-day rate divides the window's distinct counts the same way.
- **Refund-only handling time**: for each refund-only after-sale, the time from the application
  to its first decision — the first status change to refunded or rejected, whoever made it
  (merchant, timeout, interception success, the platform, an operator) — minus the pause of
  domain.md: from the moment the platform agreed "refund after refusal" (the status-change row to
  refund_after_refusal) until the parcel question was resolved. Resolved is the earliest of: the
  first deadline-change row after the pause began (the 48-hour rule writes it when refusal,
  interception, return or sign-for arrives), the first refused / intercepted / returning / signed
  tracking event of the after-sale's parcel after the pause began, and the decision itself.
  Approximation: a logistics exception neither pauses nor resumes anything, and when no
  resolution is recorded before the decision the whole wait counts as paused. The figure is the
  median over the after-sales decided that day (the middle value, or the mean of the two middle
  values), in hours.
- **Timeouts**: distinct after-sales with a status change made by the timeout that day.

Every figure is aggregated by the database, grouped by day: a fixed number of queries whatever the
size of the shop. The median uses window functions (row number and count per day), so only the
one or two middle rows per day leave the database.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import (
    Count,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    Subquery,
    Value,
    Window,
)
from django.db.models.functions import Coalesce, Least, RowNumber, TruncDate
from django.utils import timezone

from shop.localtime import SHANGHAI, local_date, start_of_day
from shop.models import Shop, TrackingEvent

from .models import Actor, AfterSale, AfterSaleLog
from .services import PARCEL_RESOLUTIONS

DEFAULT_DAYS = 30

S = AfterSale.Status
CLOSED_STATUSES = (S.REFUNDED, S.REJECTED, S.CANCELLED, S.CLOSED)
# The first of these ends a refund-only after-sale's handling time.
DECISION_STATUSES = (S.REFUNDED, S.REJECTED)
RESOLVING_PARCEL_STATUSES = tuple(PARCEL_RESOLUTIONS)


@dataclass(frozen=True)
class Figures:
    """One day's figures, or the whole window's (`day` None)."""

    day: date | None
    applied: int = 0
    closed: int = 0
    rejected: int = 0
    timeouts: int = 0
    handled: int = 0  # refund-only after-sales decided: the median's sample size
    median_handling: timedelta | None = None

    @property
    def rejection_rate(self) -> Decimal | None:
        """Percent with one decimal, or None when nothing closed."""
        if not self.closed:
            return None
        return (Decimal(100 * self.rejected) / self.closed).quantize(Decimal("0.1"), ROUND_HALF_UP)

    @property
    def median_handling_hours(self) -> Decimal | None:
        if self.median_handling is None:
            return None
        hours = Decimal(self.median_handling.total_seconds()) / 3600
        return hours.quantize(Decimal("0.1"), ROUND_HALF_UP)


@dataclass(frozen=True)
class ServiceMetrics:
    start: datetime  # first instant of the first day (Asia/Shanghai midnight)
    end: datetime  # first instant after the last day
    days: list[Figures]  # oldest first, one per day, days without activity included
    totals: Figures


def day_window(*, days: int, now: datetime) -> tuple[datetime, datetime, list[date]]:
    """The last `days` Asia/Shanghai days, today included: [start, end) and the dates."""
    today = local_date(now)
    dates = [today - timedelta(days=offset) for offset in range(days - 1, -1, -1)]
    start = start_of_day(dates[0])
    end = start_of_day(today + timedelta(days=1))
    return start, end, dates


def service_metrics(*, shop: Shop, days: int = DEFAULT_DAYS, now: datetime | None = None) -> ServiceMetrics:
    """The shop's figures per day and for the whole window, in five queries."""
    start, end, dates = day_window(days=days, now=now or timezone.now())
    applied = applications_by_day(shop=shop, start=start, end=end)
    closures = closures_by_day(shop=shop, start=start, end=end)
    handling = handling_by_day(shop=shop, start=start, end=end)
    per_day = [
        Figures(day=day, applied=applied.get(day, 0), **closures.get(day, {}), **handling.get(day, {})) for day in dates
    ]
    totals = Figures(
        day=None,
        applied=sum(applied.values()),
        **closure_totals(shop=shop, start=start, end=end),
        **handling_total(shop=shop, start=start, end=end),
    )
    return ServiceMetrics(start=start, end=end, days=per_day, totals=totals)


def _day(field: str) -> TruncDate:
    return TruncDate(field, tzinfo=SHANGHAI)


def applications_by_day(*, shop: Shop, start: datetime, end: datetime) -> dict[date, int]:
    rows = (
        AfterSale.objects.filter(shop=shop, applied_at__gte=start, applied_at__lt=end)
        .annotate(day=_day("applied_at"))
        .values("day")
        .annotate(applied=Count("id"))
        .order_by()
    )
    return {row["day"]: row["applied"] for row in rows}


def _status_rows(*, shop: Shop, start: datetime, end: datetime):
    return AfterSaleLog.objects.filter(
        after_sale__shop=shop, action=AfterSaleLog.Action.STATUS, at__gte=start, at__lt=end
    )


_CLOSURE_AGGREGATES = {
    "closed": Count("after_sale_id", distinct=True, filter=Q(to_status__in=CLOSED_STATUSES)),
    "rejected": Count("after_sale_id", distinct=True, filter=Q(to_status=S.REJECTED, actor=Actor.MERCHANT)),
    "timeouts": Count("after_sale_id", distinct=True, filter=Q(actor=Actor.TIMEOUT)),
}


def closures_by_day(*, shop: Shop, start: datetime, end: datetime) -> dict[date, dict]:
    rows = (
        _status_rows(shop=shop, start=start, end=end)
        .annotate(day=_day("at"))
        .values("day")
        .annotate(**_CLOSURE_AGGREGATES)
        .order_by()
    )
    return {row.pop("day"): row for row in rows}


def closure_totals(*, shop: Shop, start: datetime, end: datetime) -> dict:
    return _status_rows(shop=shop, start=start, end=end).aggregate(**_CLOSURE_AGGREGATES)


# --- refund-only handling time -------------------------------------------------------------------
def refund_only_decisions(*, shop: Shop, start: datetime, end: datetime):
    """One row per refund-only after-sale first decided in [start, end), with its `handling` duration."""
    history = AfterSaleLog.objects.filter(after_sale=OuterRef("after_sale_id"))
    decisions = history.filter(action=AfterSaleLog.Action.STATUS, to_status__in=DECISION_STATUSES)
    earlier_decision = decisions.filter(Q(at__lt=OuterRef("at")) | Q(at=OuterRef("at"), id__lt=OuterRef("id")))
    paused_from = (
        history.filter(action=AfterSaleLog.Action.STATUS, to_status=S.REFUND_AFTER_REFUSAL)
        .order_by("at", "id")
        .values("at")[:1]
    )
    resumed_by_deadline = (
        history.filter(action=AfterSaleLog.Action.DEADLINE, at__gte=OuterRef("paused_from"))
        .order_by("at", "id")
        .values("at")[:1]
    )
    resumed_by_parcel = (
        TrackingEvent.objects.filter(
            parcel_id=OuterRef("after_sale__parcel_id"),
            status__in=RESOLVING_PARCEL_STATUSES,
            at__gte=OuterRef("paused_from"),
        )
        .order_by("at", "id")
        .values("at")[:1]
    )
    duration = DurationField()
    return (
        AfterSaleLog.objects.filter(
            after_sale__shop=shop,
            after_sale__type=AfterSale.Type.REFUND_ONLY,
            action=AfterSaleLog.Action.STATUS,
            to_status__in=DECISION_STATUSES,
            at__gte=start,
            at__lt=end,
        )
        .exclude(Exists(earlier_decision))
        .annotate(paused_from=Subquery(paused_from))
        .annotate(
            resumed_at=Least(
                Coalesce(Subquery(resumed_by_deadline), F("at")),
                Coalesce(Subquery(resumed_by_parcel), F("at")),
                F("at"),
            )
        )
        .annotate(
            paused=Coalesce(
                ExpressionWrapper(F("resumed_at") - F("paused_from"), output_field=duration),
                Value(timedelta(0), output_field=duration),
            ),
            elapsed=ExpressionWrapper(F("at") - F("after_sale__applied_at"), output_field=duration),
        )
        .annotate(handling=ExpressionWrapper(F("elapsed") - F("paused"), output_field=duration))
        .order_by()
    )


def _middle_rows(decisions, partition_by):
    """Only the row(s) in the middle of each partition, ordered by handling time."""
    return (
        decisions.annotate(
            position=Window(RowNumber(), partition_by=partition_by, order_by=[F("handling").asc(), F("id").asc()]),
            sample=Window(Count("id"), partition_by=partition_by),
        )
        # The middle of n rows: position p with n <= 2p <= n + 2 (one row if n is odd, two if even).
        .annotate(twice=F("position") * 2)
        .filter(twice__gte=F("sample"), twice__lte=F("sample") + 2)
    )


def _median(values: list[timedelta]) -> timedelta:
    return sum(values, timedelta(0)) / len(values)


def handling_by_day(*, shop: Shop, start: datetime, end: datetime) -> dict[date, dict]:
    day = _day("at")
    rows = (
        _middle_rows(refund_only_decisions(shop=shop, start=start, end=end), partition_by=[day])
        .annotate(day=day)
        .values_list("day", "sample", "handling")
    )
    grouped: dict[date, tuple[int, list[timedelta]]] = defaultdict(lambda: (0, []))
    for row_day, sample, handling in rows:
        grouped[row_day] = (sample, [*grouped[row_day][1], handling])
    return {
        row_day: {"handled": sample, "median_handling": _median(values)}
        for row_day, (sample, values) in grouped.items()
    }


def handling_total(*, shop: Shop, start: datetime, end: datetime) -> dict:
    rows = list(
        _middle_rows(refund_only_decisions(shop=shop, start=start, end=end), partition_by=None).values_list(
            "sample", "handling"
        )
    )
    if not rows:
        return {"handled": 0, "median_handling": None}
    return {"handled": rows[0][0], "median_handling": _median([handling for _sample, handling in rows])}
