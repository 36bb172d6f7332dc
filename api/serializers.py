"""The contract's objects (merchant-api.md, "Objects") as plain dicts, from preloaded rows: no queries."""

from datetime import datetime
from decimal import Decimal

from django.utils import timezone

from aftersales.models import AfterSale, RefundEntry
from interception.models import ServiceOrder


def money(value: Decimal | None) -> str:
    return f"{value or Decimal('0.00'):.2f}"


def when(value: datetime | None) -> str | None:
    return timezone.localtime(value).isoformat(timespec="seconds") if value else None


def refund_json(entry: RefundEntry, *, order_no: str, line_no: str, after_sale_no: str | None) -> dict:
    return {
        "id": entry.pk,
        "order_no": order_no,
        "line_no": line_no,
        "after_sale_no": after_sale_no,
        "kind": entry.kind,
        "amount": money(entry.amount),
        "actor": entry.actor,
        "reason": entry.reason,
        "at": when(entry.created_at),
    }


def after_sale_json(after_sale: AfterSale) -> dict:
    """`after_sale` from api.selectors (order, line, buyer, parcel's courier joined; refunds prefetched)."""
    order_no, line_no = after_sale.order.order_no, after_sale.line.line_no
    parcel = after_sale.parcel
    return {
        "after_sale_no": after_sale.after_sale_no,
        "order_no": order_no,
        "line_no": line_no,
        "type": after_sale.type,
        "status": after_sale.status,
        "reason": after_sale.reason,
        "note": after_sale.buyer_note,
        "amount": money(after_sale.amount),
        "refunded_amount": money(after_sale.refunded_amount),
        "sequence": after_sale.sequence,
        "multi_refund": after_sale.multi_refund,
        "deadline": when(after_sale.deadline) if after_sale.is_open else None,
        "flag": after_sale.flag,
        "remark": after_sale.remark,
        "version": after_sale.version,
        "created_at": when(after_sale.applied_at),
        "updated_at": when(after_sale.updated_at),
        "buyer": {"id": after_sale.buyer.external_id, "nickname": after_sale.buyer.nickname},
        "parcel": (
            {"tracking_no": parcel.tracking_no, "courier": parcel.courier.code, "status": parcel.status}
            if parcel is not None
            else None
        ),
        "refunds": [
            refund_json(entry, order_no=order_no, line_no=line_no, after_sale_no=after_sale.after_sale_no)
            for entry in after_sale.refunds.all()
        ],
    }


def refund_entry_json(entry: RefundEntry) -> dict:
    """A refund with its order, line and after-sale joined (api.selectors.refunds_of_order)."""
    return refund_json(
        entry,
        order_no=entry.order.order_no,
        line_no=entry.line.line_no,
        after_sale_no=entry.after_sale.after_sale_no if entry.after_sale_id else None,
    )


FINISHED_STATUSES = frozenset(ServiceOrder.Status.values) - set(ServiceOrder.PENDING_STATUSES)


def service_order_json(service_order: ServiceOrder) -> dict:
    """`service_order` with after-sale and order, parcel, courier and outlet joined."""
    finished = service_order.status in FINISHED_STATUSES
    return {
        "service_order_no": service_order.number,
        "after_sale_no": service_order.after_sale.after_sale_no,
        "order_no": service_order.after_sale.order.order_no,
        "tracking_no": service_order.parcel.tracking_no,
        "courier": service_order.courier.code,
        "outlet": service_order.outlet.code,
        "mode": service_order.mode,
        "fee": money(service_order.fee),
        "status": service_order.status,
        "failure_reason": service_order.failure_reason,
        "created_at": when(service_order.created_at),
        "finished_at": when(service_order.result_at or service_order.updated_at) if finished else None,
        "updated_at": when(service_order.updated_at),
    }
