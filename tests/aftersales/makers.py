"""Small helpers shared by the after-sales tests: a direct after-sale maker and a whole-state snapshot."""

import itertools
from datetime import datetime
from decimal import Decimal

from aftersales.models import AfterSale, AfterSaleLog, BuyerNotification, EvidenceImage, RefundEntry
from shop.models import Order, OrderLine, Parcel, PlatformEvent
from tests.conftest import at

_seq = itertools.count(1)


def make_after_sale(
    order: Order,
    *,
    line: OrderLine | None = None,
    after_sale_no: str = "",
    type: str = AfterSale.Type.REFUND_ONLY,
    reason: str = AfterSale.Reason.NOT_RECEIVED,
    amount: str | Decimal | None = None,
    status: str = AfterSale.Status.PENDING_MERCHANT,
    deadline: datetime | None = None,
    applied_at: datetime | None = None,
    parcel: Parcel | None = None,
    sequence: int | None = None,
) -> AfterSale:
    """An after-sale in any status, written straight to the database (the services are under test)."""
    line = line or order.lines.order_by("line_no").first()
    applied_at = applied_at or at("2026-11-22 10:15")
    if deadline is None and status in AfterSale.OPEN_STATUSES and status != AfterSale.Status.ARBITRATION:
        deadline = at("2026-11-24 10:15")
    return AfterSale.objects.create(
        shop=order.shop,
        order=order,
        line=line,
        buyer=order.buyer,
        parcel=parcel,
        after_sale_no=after_sale_no or f"AS-M{next(_seq)}",
        type=type,
        reason=reason,
        amount=Decimal(amount) if amount is not None else line.paid_amount - line.refunded_amount,
        status=status,
        sequence=sequence or AfterSale.objects.filter(order=order).count() + 1,
        deadline=deadline if status in AfterSale.OPEN_STATUSES else None,
        applied_at=applied_at,
        closed_at=None if status in AfterSale.OPEN_STATUSES else applied_at,
    )


def snapshot() -> dict:
    """Everything an after-sales write may touch, to assert that a refusal changed nothing."""
    return {
        "after_sales": sorted(
            AfterSale.objects.values_list(
                "after_sale_no", "status", "version", "deadline", "refunded_amount", "flag", "remark", "last_actor"
            )
        ),
        "logs": sorted(AfterSaleLog.objects.values_list("pk", flat=True)),
        "refunds": sorted(RefundEntry.objects.values_list("pk", "amount")),
        "notifications": sorted(BuyerNotification.objects.values_list("pk", "status")),
        "evidence": EvidenceImage.objects.count(),
        "events": sorted(PlatformEvent.objects.values_list("event_id", flat=True)),
        "lines": sorted(OrderLine.objects.values_list("pk", "refunded_amount")),
        "orders": sorted(Order.objects.values_list("pk", "refunded_amount", "status")),
        "parcels": sorted(Parcel.objects.values_list("pk", "status", "status_at")),
    }
