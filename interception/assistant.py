"""The after-sales assistant rule "快递拦截自动退": launch an interception the moment a matching
refund-only request arrives on a parcel still on its way, and a dry run of it over past requests.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import Count, Exists, F, OuterRef, Sum

from aftersales.models import AfterSale
from shop.models import Parcel, Shop, TrackingEvent
from shop.platform_events.registry import EventContext, add_applier

from . import rules, services
from .models import AssistantRule, Partnership, ServiceOrder

DRY_RUN_DAYS = 30


def rule_for(shop: Shop) -> AssistantRule:
    rule, _created = AssistantRule.objects.get_or_create(shop=shop)
    return rule


def matches(rule: AssistantRule, after_sale: AfterSale, courier_ids: set[int]) -> bool:
    parcel = after_sale.parcel
    if parcel is None or after_sale.type != AfterSale.Type.REFUND_ONLY or not after_sale.is_open:
        return False
    if parcel.status not in Parcel.MOVING_STATUSES:
        return False
    return rules.assistant_rule_matches(
        enabled=rule.enabled,
        min_amount=rule.min_amount,
        max_amount=rule.max_amount,
        courier_ids=courier_ids,
        amount=after_sale.amount,
        courier_id=parcel.courier_id,
    )


def apply_after_sale_applied(ctx: EventContext) -> None:
    """After the after-sales layer created the request: launch at once when the shop's rule matches."""
    after_sale = ctx.state.get("after_sale")
    if after_sale is None:
        return
    rule = AssistantRule.objects.filter(shop_id=after_sale.shop_id, enabled=True).first()
    if rule is None:
        return
    courier_ids = set(rule.couriers.values_list("pk", flat=True))
    if matches(rule, after_sale, courier_ids):
        services.launch_interceptions(
            shop=after_sale.shop, user=None, after_sale_ids=[after_sale.pk], via=ServiceOrder.Via.ASSISTANT_RULE
        )


def register() -> None:
    add_applier("aftersale.applied", apply_after_sale_applied, order=30)


@dataclass(frozen=True)
class DryRun:
    days: int
    count: int
    refunds: Decimal
    fees: Decimal
    by_courier: list[dict]


def dry_run(*, rule: AssistantRule, courier_ids: set[int], now: datetime) -> DryRun:
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
        applied_at__gte=now - timedelta(days=DRY_RUN_DAYS),
        parcel__isnull=False,
        parcel__shipped_at__lte=F("applied_at"),
        amount__gte=rule.min_amount,
        amount__lte=rule.max_amount,
    ).exclude(Exists(settled))
    if courier_ids:
        matching = matching.filter(parcel__courier_id__in=courier_ids)
    rows = list(
        matching.values("parcel__courier__code", "parcel__outlet_id").annotate(n=Count("id"), amount=Sum("amount"))
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
            {"courier": row["parcel__courier__code"], "count": 0, "refunds": Decimal("0.00"), "fees": Decimal("0.00")},
        )
        entry["count"] += row["n"]
        entry["refunds"] += row["amount"] or Decimal("0.00")
        entry["fees"] += fee.amount * row["n"]
    couriers = sorted(by_courier.values(), key=lambda e: e["courier"])
    return DryRun(
        days=DRY_RUN_DAYS,
        count=sum(e["count"] for e in couriers),
        refunds=sum((e["refunds"] for e in couriers), Decimal("0.00")),
        fees=sum((e["fees"] for e in couriers), Decimal("0.00")),
        by_courier=couriers,
    )


def update_rule(*, rule: AssistantRule, enabled: bool, min_amount, max_amount, couriers) -> AssistantRule:
    rule.enabled, rule.min_amount, rule.max_amount = enabled, min_amount, max_amount
    rule.save(update_fields=["enabled", "min_amount", "max_amount", "updated_at"])
    rule.couriers.set(couriers)
    return rule
