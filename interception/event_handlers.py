"""Interception's reactions to platform events, run after the after-sales layer's own handlers:

- `aftersale.applied`: the assistant rule "快递拦截自动退" launches an interception at once when the
  new refund-only request matches the shop's rule;
- `parcel.status`: an intercepted parcel's way back updates its service order.
"""

from shop.models import Parcel
from shop.platform_events.registry import EventContext, add_applier

from . import rules, services
from .models import AssistantRule, ServiceOrder, ServiceOrderLog

RETURN_RESULTS = {
    Parcel.Status.RETURNING: ("returning", ""),
    Parcel.Status.RETURNED: ("returned", ""),
    Parcel.Status.LOST: ("return_failed", ServiceOrder.ReturnFailure.LOST),
    Parcel.Status.DAMAGED: ("return_failed", ServiceOrder.ReturnFailure.DAMAGED),
}


def apply_after_sale_applied(ctx: EventContext) -> None:
    """After the after-sales layer created the request: launch at once when the shop's rule matches."""
    after_sale = ctx.state.get("after_sale")
    if after_sale is None:
        return
    rule = AssistantRule.objects.filter(shop_id=after_sale.shop_id, enabled=True).first()
    if rule is None:
        return
    courier_ids = set(rule.couriers.values_list("pk", flat=True))
    if rules.assistant_rule_applies(rule, after_sale, courier_ids):
        services.launch_interceptions(
            shop=after_sale.shop, user=None, after_sale_ids=[after_sale.pk], via=ServiceOrder.Via.ASSISTANT_RULE
        )


def apply_parcel_status(ctx: EventContext) -> None:
    result = ctx.state["parcel_status"]
    if not result.moved or result.parcel.status not in RETURN_RESULTS:
        return
    status, failure = RETURN_RESULTS[result.parcel.status]
    live = ServiceOrder.objects.filter(
        parcel=result.parcel,
        status__in=[ServiceOrder.Status.SUCCEEDED, ServiceOrder.Status.RETURNING, ServiceOrder.Status.RETURNED],
    ).values_list("pk", flat=True)
    for service_order_id in live:
        services.apply_result(
            service_order_id=service_order_id,
            status=status,
            occurred_at=ctx.data.at,
            return_failure=failure,
            actor=ServiceOrderLog.Actor.PLATFORM,
        )


def register() -> None:
    add_applier("aftersale.applied", apply_after_sale_applied, order=30)
    add_applier("parcel.status", apply_parcel_status, order=30)
