"""Reads for the launch pages: batches and their progress, pasted tracking numbers. Shop-scoped."""

from django.db.models import QuerySet

from aftersales.models import AfterSale
from shop.models import Shop

from .models import InterceptionBatch, ServiceOrder


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


def batch_progress(*, batch: InterceptionBatch, orders: list[ServiceOrder] | None = None) -> dict:
    orders = batch_service_orders(batch=batch) if orders is None else orders
    done_statuses = set(ServiceOrder.LIVE_STATUSES) - set(ServiceOrder.PENDING_STATUSES) | {ServiceOrder.Status.FAILED}
    succeeded = sum(1 for o in orders if o.status not in ServiceOrder.PENDING_STATUSES and o.status != "failed")
    failed = sum(1 for o in orders if o.status == ServiceOrder.Status.FAILED)
    done = sum(1 for o in orders if o.status in done_statuses)
    return {
        "total": len(orders),
        "done": done,
        "succeeded": succeeded,
        "failed": failed,
        "pending": len(orders) - done,
        "skipped": len(batch.skipped),
        "finished": done == len(orders),
    }


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
