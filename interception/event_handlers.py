"""Interception's reaction to `parcel.status`: an intercepted parcel's way back updates its service order."""

from shop.models import Parcel
from shop.platform_events.registry import EventContext, add_applier

from . import services
from .models import ServiceOrder

RETURN_RESULTS = {
    Parcel.Status.RETURNING: ("returning", ""),
    Parcel.Status.RETURNED: ("returned", ""),
    Parcel.Status.LOST: ("return_failed", ServiceOrder.ReturnFailure.LOST),
    Parcel.Status.DAMAGED: ("return_failed", ServiceOrder.ReturnFailure.DAMAGED),
}


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
            service_order_id=service_order_id, status=status, occurred_at=ctx.data.at, return_failure=failure
        )


def register() -> None:
    add_applier("parcel.status", apply_parcel_status, order=30)
