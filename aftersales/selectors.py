"""Reads for after-sales pages, always scoped to the viewer's shop."""

from datetime import datetime
from decimal import Decimal

from django.db.models import Count, OuterRef, Prefetch, QuerySet, Subquery, Sum

from shop.models import Parcel, Shop, TrackingEvent

from . import rules
from .models import AfterSale, AfterSaleLog, BulkJob, BulkJobRow, BuyerNotification, EvidenceImage, RefundEntry


def after_sales_for_shop(*, shop: Shop) -> QuerySet[AfterSale]:
    """The shop's after-sales with what a list row shows joined in (no per-row queries)."""
    return AfterSale.objects.filter(shop=shop).select_related("order", "line", "buyer", "parcel__courier")


# What a workbench row shows, and no more: at 50–100 rows a page, decoding and building the unused
# columns of six models costs more than the query. A field left out here would cost a query per row
# on first use; the page's constant query count (tests) guards that.
WORKBENCH_ROW_FIELDS = (
    "shop_id", "order_id", "line_id", "buyer_id", "parcel_id", "after_sale_no", "type", "reason", "amount",
    "refunded_amount", "status", "sequence", "multi_refund", "deadline", "flag", "remark", "version",
    "applied_at", "order__order_no", "line__title", "buyer__nickname", "parcel__tracking_no",
    "parcel__status", "parcel__courier_id", "parcel__courier__name",
)  # fmt: skip


def workbench_rows_for_shop(*, shop: Shop) -> QuerySet[AfterSale]:
    """The shop's after-sales as the workbench lists them: its joins, only the columns it shows."""
    return after_sales_for_shop(shop=shop).only(*WORKBENCH_ROW_FIELDS)


def after_sale_detail_for_shop(*, shop: Shop) -> QuerySet[AfterSale]:
    """The shop's after-sales with everything the detail page shows, in a fixed number of queries."""
    return after_sales_for_shop(shop=shop).prefetch_related(
        Prefetch("logs", queryset=AfterSaleLog.objects.select_related("user").order_by("-at", "-id")),
        Prefetch(
            "order__parcels",
            queryset=Parcel.objects.select_related("courier", "outlet")
            .prefetch_related("lines", Prefetch("tracking_events", queryset=TrackingEvent.objects.order_by("-at")))
            .order_by("id"),
        ),
        "order__lines",
        "evidence",
    )


def order_refunds(*, shop: Shop, order_id: int) -> QuerySet[RefundEntry]:
    return (
        RefundEntry.objects.filter(shop=shop, order_id=order_id)
        .select_related("line", "user")
        .order_by("created_at", "id")
    )


def abuse_stats(*, shop: Shop, buyer_ids: list[int], now: datetime) -> dict[int, dict]:
    """Refund-only requests of each buyer in this shop over the last 90 days (羊毛党 hint), one query.

    Returns {buyer_id: {"count", "amount", "flagged"}}: requests not withdrawn and the amount refunded
    on them; `flagged` when either reaches the configured threshold.
    """
    from django.conf import settings

    rows = (
        AfterSale.objects.filter(
            shop=shop,
            buyer_id__in=set(buyer_ids),
            type=AfterSale.Type.REFUND_ONLY,
            applied_at__gte=now - rules.ABUSE_WINDOW,
        )
        # A request the buyer withdrew is no sign of abuse.
        .exclude(status=AfterSale.Status.CANCELLED)
        .values("buyer_id")
        .annotate(count=Count("id"), amount=Sum("refunded_amount"))
    )
    limit_count = settings.AFTERSALES_ABUSE_THRESHOLD_COUNT
    limit_amount = Decimal(settings.AFTERSALES_ABUSE_THRESHOLD_AMOUNT)
    stats = {}
    for row in rows:
        amount = row["amount"] or Decimal("0.00")
        stats[row["buyer_id"]] = {
            "count": row["count"],
            "amount": amount,
            "flagged": row["count"] >= limit_count or amount >= limit_amount,
        }
    return stats


def line_notifications_for_shop(*, shop: Shop, line_id: int) -> QuerySet[BuyerNotification]:
    """The buyer notifications of one of the shop's order lines, newest first: the line's, not only an
    after-sale's, because an after-sale card is sent for the line."""
    return BuyerNotification.objects.filter(shop=shop, line_id=line_id).order_by("-created_at", "-id")


def evidence_for_shop(*, shop: Shop, after_sale_no: str) -> QuerySet[EvidenceImage]:
    """The evidence images of one of the shop's after-sales (another shop's: none)."""
    return EvidenceImage.objects.filter(after_sale__shop=shop, after_sale__after_sale_no=after_sale_no)


def signed_at_subquery():
    """When the after-sale's parcel was last signed for, from its tracking events (None: never)."""
    signed = TrackingEvent.objects.filter(parcel=OuterRef("parcel_id"), status=Parcel.Status.SIGNED)
    return Subquery(signed.order_by("-at").values("at")[:1])


def bulk_candidates(*, shop: Shop, ids: list[int]) -> list[AfterSale]:
    """The shop's after-sales among `ids`, as a bulk confirmation lists them, by deadline;
    each with `signed_at`. One query whatever the count (another shop's ids are simply absent)."""
    rows = (
        after_sales_for_shop(shop=shop)
        .filter(pk__in=ids)
        .annotate(signed_at=signed_at_subquery())
        .order_by("deadline", "pk")
    )
    return list(rows)


def bulk_jobs_for_shop(*, shop: Shop) -> QuerySet[BulkJob]:
    return BulkJob.objects.filter(shop=shop).select_related("user")


def bulk_job_rows(*, job: BulkJob) -> list[BulkJobRow]:
    """A job's outcomes, failures first, each with its after-sale and the evidence image it attached."""
    evidence = EvidenceImage.objects.filter(after_sale=OuterRef("after_sale_id")).order_by("-uploaded_at", "-id")
    rows = (
        BulkJobRow.objects.filter(job=job)
        .select_related("after_sale__buyer", "after_sale__parcel__courier")
        .annotate(evidence_id=Subquery(evidence.values("pk")[:1]))
        .order_by("ok", "id")
    )
    return list(rows)
