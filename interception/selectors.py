"""Reads for the interception pages, always scoped to the viewer: a merchant's shop or an outlet."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import Count, Exists, F, OuterRef, Prefetch, Q, QuerySet, Sum
from django.utils.translation import gettext as _

from aftersales.models import AfterSale
from shop.models import Courier, Outlet, Parcel, Shop, TrackingEvent

from . import rules
from .models import AssistantRule, FeeCharge, InterceptionBatch, Partnership, PartnershipLog, ServiceOrder
from .rules import outlet_blocker

_LOGS = Prefetch("logs", queryset=PartnershipLog.objects.select_related("user").order_by("at", "id"))


# --- merchants -------------------------------------------------------------------------------------


def partnerships_for_shop(*, shop: Shop) -> QuerySet[Partnership]:
    """The shop's partnerships, newest first, with outlet and courier joined."""
    return Partnership.objects.filter(shop=shop).select_related("outlet__courier").order_by("-created_at", "-id")


def partnership_detail_for_shop(*, shop: Shop) -> QuerySet[Partnership]:
    """The shop's partnerships with their history, for the detail page."""
    return partnerships_for_shop(shop=shop).select_related("proposed_by").prefetch_related(_LOGS)


def offline_settlement_couriers() -> QuerySet[Courier]:
    """Couriers that offer offline settlement today (a courier's flag, not a list in code)."""
    return Courier.objects.filter(supports_offline_settlement=True).order_by("code")


@dataclass(frozen=True)
class OutletChoice:
    """One outlet of the apply form: `blocker` says why it cannot be chosen, or is empty."""

    outlet: Outlet
    blocker: str

    @property
    def selectable(self) -> bool:
        return not self.blocker


def outlet_choices_for_shop(*, shop: Shop, courier: Courier) -> list[OutletChoice]:
    """The courier's outlets for the shop's apply form, each with the reason it cannot be chosen, if any.

    Besides `outlet_blocker` (no e-waybill, courier without offline settlement), an outlet that already
    has a pending or active partnership with this shop cannot be chosen again.
    """
    live = Partnership.objects.filter(shop=shop, outlet=OuterRef("pk"), status__in=Partnership.LIVE_STATUSES)
    outlets = (
        Outlet.objects.filter(courier=courier).select_related("courier").annotate(live=Exists(live)).order_by("code")
    )
    choices = []
    for outlet in outlets:
        blocker = outlet_blocker(outlet)
        if blocker is None and outlet.live:
            blocker = _("your shop already has a pending or active partnership with this outlet")
        choices.append(OutletChoice(outlet=outlet, blocker=blocker or ""))
    return choices


def active_partnership(*, shop_id: int, outlet_id: int) -> Partnership | None:
    """The shop's active partnership with the outlet, if any: its parcels settle offline at its fee."""
    return Partnership.objects.filter(shop_id=shop_id, outlet_id=outlet_id, status=Partnership.Status.ACTIVE).first()


def service_orders_for_shop(*, shop: Shop) -> QuerySet[ServiceOrder]:
    """The shop's service orders with what a row of the list shows joined in (no per-row queries)."""
    return ServiceOrder.objects.filter(shop=shop).select_related("after_sale", "parcel", "courier", "outlet")


def open_refund_only_siblings(*, shop: Shop, after_sale: AfterSale) -> list[int]:
    """Ids of the open refund-only after-sales of the same order (the interception page lists them all)."""
    return list(
        AfterSale.objects.filter(
            shop=shop,
            order_id=after_sale.order_id,
            type=AfterSale.Type.REFUND_ONLY,
            status__in=AfterSale.OPEN_STATUSES,
        ).values_list("pk", flat=True)
    )


def open_refund_only_by_tracking(*, shop: Shop, tracking_numbers: list[str]) -> dict[str, int]:
    """{tracking number: after-sale id} for the shop's open refund-only after-sales on those parcels."""
    rows = (
        AfterSale.objects.filter(
            shop=shop,
            type=AfterSale.Type.REFUND_ONLY,
            status__in=AfterSale.OPEN_STATUSES,
            parcel__tracking_no__in=tracking_numbers,
        )
        .order_by("parcel__tracking_no", "-applied_at")
        .values_list("parcel__tracking_no", "pk")
    )
    found: dict[str, int] = {}
    for tracking_no, after_sale_id in rows:
        found.setdefault(tracking_no, after_sale_id)
    return found


# --- batches ---------------------------------------------------------------------------------------


def batches_for_shop(*, shop: Shop) -> QuerySet[InterceptionBatch]:
    return InterceptionBatch.objects.filter(shop=shop)


def batch_service_orders(*, batch: InterceptionBatch) -> list[ServiceOrder]:
    """The batch's latest service order per after-sale (a retry supersedes the failed attempt)."""
    orders = (
        ServiceOrder.objects.filter(batch=batch)
        .select_related("after_sale", "parcel", "courier", "outlet")
        .order_by("after_sale_id", "-id")
    )
    latest = {}
    for order in orders:
        latest.setdefault(order.after_sale_id, order)
    return sorted(latest.values(), key=lambda o: (o.courier.code, o.pk))


def batch_latest(*, batch: InterceptionBatch) -> list[tuple[int, str]]:
    """(id, status) of the batch's latest service order per after-sale, in the page's order (courier, id).

    Plain tuples: a batch of thousands is counted and paged without building its model instances.
    """
    rows = (
        ServiceOrder.objects.filter(batch=batch)
        .order_by("after_sale_id", "-id")
        .values_list("after_sale_id", "id", "status", "courier__code")
    )
    latest = {}
    for after_sale_id, pk, status, courier in rows:
        latest.setdefault(after_sale_id, (courier, pk, status))
    return [(pk, status) for _courier, pk, status in sorted(latest.values())]


def batch_page_orders(*, ids: list[int]) -> list[ServiceOrder]:
    """The service orders of one page of a batch, in the order of `ids`."""
    orders = ServiceOrder.objects.filter(pk__in=ids).select_related("after_sale", "parcel", "courier", "outlet")
    by_id = {order.pk: order for order in orders}
    return [by_id[pk] for pk in ids if pk in by_id]


_DONE_STATUSES = set(ServiceOrder.LIVE_STATUSES) - set(ServiceOrder.PENDING_STATUSES) | {ServiceOrder.Status.FAILED}


def _progress(statuses: list[str], skipped: int) -> dict:
    """A batch's counts from the statuses of its latest service order per after-sale."""
    succeeded = sum(1 for s in statuses if s not in ServiceOrder.PENDING_STATUSES and s != ServiceOrder.Status.FAILED)
    failed = sum(1 for s in statuses if s == ServiceOrder.Status.FAILED)
    done = sum(1 for s in statuses if s in _DONE_STATUSES)
    return {
        "total": len(statuses),
        "done": done,
        "succeeded": succeeded,
        "failed": failed,
        "pending": len(statuses) - done,
        "skipped": skipped,
        "finished": done == len(statuses),
    }


def batch_progress_of(*, batch: InterceptionBatch, statuses: list[str]) -> dict:
    """The batch's counts from the statuses of its latest service orders (`batch_latest`)."""
    return _progress(statuses, len(batch.skipped))


def batch_progress(*, batch: InterceptionBatch, orders: list[ServiceOrder] | None = None) -> dict:
    orders = batch_service_orders(batch=batch) if orders is None else orders
    return _progress([order.status for order in orders], len(batch.skipped))


def recent_batches_with_progress(*, shop: Shop, limit: int) -> list[tuple[InterceptionBatch, dict]]:
    """The shop's latest batches, each with its progress: two queries, whatever the number of batches."""
    batches = list(batches_for_shop(shop=shop).select_related("created_by")[:limit])
    rows = (
        ServiceOrder.objects.filter(batch__in=batches)
        .order_by("batch_id", "after_sale_id", "-id")
        .values_list("batch_id", "after_sale_id", "status")
    )
    latest: dict[tuple[int, int], str] = {}
    for batch_id, after_sale_id, status in rows:
        latest.setdefault((batch_id, after_sale_id), status)
    statuses: dict[int, list[str]] = {batch.pk: [] for batch in batches}
    for (batch_id, _after_sale_id), status in latest.items():
        statuses[batch_id].append(status)
    return [(batch, _progress(statuses[batch.pk], len(batch.skipped))) for batch in batches]


def week_summary(*, shop: Shop, since: datetime) -> dict:
    """The shop's interceptions launched since `since` by outcome, and the fees charged since then."""
    S = ServiceOrder.Status
    counts = ServiceOrder.objects.filter(shop=shop, created_at__gte=since).aggregate(
        launched=Count("id"),
        succeeded=Count("id", filter=~Q(status__in=[S.SUBMITTED, S.PROCESSING, S.FAILED])),
        failed=Count("id", filter=Q(status=S.FAILED)),
        pending=Count("id", filter=Q(status__in=[S.SUBMITTED, S.PROCESSING])),
    )
    fees = FeeCharge.objects.filter(shop=shop, charged_at__gte=since).aggregate(
        online=Sum("amount", filter=Q(mode="online")), offline=Sum("amount", filter=Q(mode="offline"))
    )
    return {"week": counts, "week_fees": fees}


# --- the assistant rule ----------------------------------------------------------------------------


def assistant_rule_for_shop(*, shop: Shop) -> AssistantRule:
    """The shop's rule; the defaults, unsaved, when the shop never saved one (a read writes nothing)."""
    return AssistantRule.objects.filter(shop=shop).first() or AssistantRule(shop=shop)


def assistant_rule_couriers(*, rule: AssistantRule) -> list[Courier]:
    """The couriers the rule is limited to (none: all)."""
    return list(rule.couriers.all()) if rule.pk else []


ASSISTANT_DRY_RUN_DAYS = 30


@dataclass(frozen=True)
class DryRun:
    days: int
    count: int
    refunds: Decimal
    fees: Decimal
    by_courier: list[dict]


def assistant_rule_dry_run(*, rule: AssistantRule, courier_ids: set[int], now: datetime) -> DryRun:
    """What the rule would have done over the last 30 days: refund-only requests on parcels still on
    their way when the buyer applied (no sign-for, refusal or return recorded before the request).
    """
    settled = TrackingEvent.objects.filter(
        parcel_id=OuterRef("parcel_id"),
        at__lte=OuterRef("applied_at"),
        applied=True,
    ).exclude(status__in=Parcel.MOVING_STATUSES)
    matching = AfterSale.objects.filter(
        shop_id=rule.shop_id,
        type=AfterSale.Type.REFUND_ONLY,
        applied_at__gte=now - timedelta(days=ASSISTANT_DRY_RUN_DAYS),
        parcel__isnull=False,
        parcel__shipped_at__lte=F("applied_at"),
        amount__gte=rule.min_amount,
        amount__lte=rule.max_amount,
    ).exclude(Exists(settled))
    if courier_ids:
        matching = matching.filter(parcel__courier_id__in=courier_ids)
    rows = list(
        matching.values("parcel__courier__code", "parcel__courier__name", "parcel__outlet_id").annotate(
            n=Count("id"), amount=Sum("amount")
        )
    )
    fees_by_outlet = dict(
        Partnership.objects.filter(
            shop_id=rule.shop_id, status=Partnership.Status.ACTIVE, outlet_id__in={r["parcel__outlet_id"] for r in rows}
        ).values_list("outlet_id", "fee")
    )
    by_courier: dict[str, dict] = {}
    for row in rows:
        fee = rules.fee_for(
            active_partnership_id=1 if row["parcel__outlet_id"] in fees_by_outlet else None,
            partnership_fee=fees_by_outlet.get(row["parcel__outlet_id"]),
        )
        entry = by_courier.setdefault(
            row["parcel__courier__code"],
            # The courier by its name, as every page shows it (the code is for the API and the files).
            {"courier": row["parcel__courier__name"], "count": 0, "refunds": Decimal("0.00"), "fees": Decimal("0.00")},
        )
        entry["count"] += row["n"]
        entry["refunds"] += row["amount"] or Decimal("0.00")
        entry["fees"] += fee.amount * row["n"]
    couriers = sorted(by_courier.values(), key=lambda e: e["courier"])
    return DryRun(
        days=ASSISTANT_DRY_RUN_DAYS,
        count=sum(e["count"] for e in couriers),
        refunds=sum((e["refunds"] for e in couriers), Decimal("0.00")),
        fees=sum((e["fees"] for e in couriers), Decimal("0.00")),
        by_courier=couriers,
    )


# --- outlets ---------------------------------------------------------------------------------------


def partnerships_for_outlet(*, outlet: Outlet, statuses=None) -> QuerySet[Partnership]:
    """The outlet's partnerships (optionally only some statuses), with the shop joined."""
    queryset = Partnership.objects.filter(outlet=outlet).select_related("shop", "outlet__courier")
    if statuses is not None:
        queryset = queryset.filter(status__in=statuses)
    return queryset.order_by("-created_at", "-id")


def partnership_detail_for_outlet(*, outlet: Outlet) -> QuerySet[Partnership]:
    """The outlet's partnerships with their history, for the detail page."""
    return partnerships_for_outlet(outlet=outlet).prefetch_related(_LOGS)


def service_orders_for_outlet(*, outlet: Outlet) -> QuerySet[ServiceOrder]:
    """Interception service orders of parcels sent from this outlet: its list page and CSV export."""
    return (
        ServiceOrder.objects.filter(outlet=outlet)
        .select_related("shop", "parcel", "courier")
        .order_by("-created_at", "-id")
    )


def shops_for_outlet(*, outlet: Outlet) -> QuerySet[Shop]:
    """Shops the outlet deals with (a service order or a partnership): the choices of its shop filter.

    Never every shop of the platform: an outlet learns no shop it has nothing to do with.
    """
    return Shop.objects.filter(
        Q(Exists(ServiceOrder.objects.filter(outlet=outlet, shop=OuterRef("pk"))))
        | Q(Exists(Partnership.objects.filter(outlet=outlet, shop=OuterRef("pk"))))
    ).order_by("name")
