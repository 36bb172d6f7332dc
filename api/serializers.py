"""The contract's objects (merchant-api.md, "Objects") as plain dicts, from preloaded rows: no queries."""

from datetime import datetime
from decimal import Decimal

from django.utils import timezone

from aftersales.models import AfterSale, RefundEntry
from interception.models import ServiceOrder


def money(value: Decimal | None) -> str:
    return f"{value or Decimal('0.00'):.2f}"


def when(value: datetime | None, tz=None) -> str | None:
    """The moment in the current time zone (`tz`: that zone, read once by a caller with many moments)."""
    if not value:
        return None
    if value.tzinfo is None:  # as timezone.localtime: a naive moment is a bug, not a guess
        raise ValueError("when() cannot be applied to a naive datetime")
    return value.astimezone(tz or timezone.get_current_timezone()).isoformat(timespec="seconds")


def refund_json(entry: RefundEntry, *, order_no: str, line_no: str, after_sale_no: str | None) -> dict:
    row = {name: getattr(entry, name) for name in REFUND_FIELDS}
    return refund_row_json(row, order_no=order_no, line_no=line_no, after_sale_no=after_sale_no)


def refund_row_json(row: dict, *, order_no: str, line_no: str, after_sale_no: str | None, tz=None) -> dict:
    """The contract's refund from a row of REFUND_FIELDS."""
    return {
        "id": row["id"],
        "order_no": order_no,
        "line_no": line_no,
        "after_sale_no": after_sale_no,
        "kind": row["kind"],
        "amount": money(row["amount"]),
        "actor": row["actor"],
        "reason": row["reason"],
        "at": when(row["created_at"], tz),
    }


# The columns an after-sale's JSON is made of, for `.values()`: a sync page builds 100 of them from
# plain rows (api.selectors.after_sale_rows), which costs a fraction of building six models a row.
AFTER_SALE_FIELDS = (
    "id",
    "after_sale_no",
    "order__order_no",
    "line__line_no",
    "type",
    "status",
    "reason",
    "buyer_note",
    "amount",
    "refunded_amount",
    "sequence",
    "multi_refund",
    "deadline",
    "flag",
    "remark",
    "version",
    "applied_at",
    "updated_at",
    "buyer__external_id",
    "buyer__nickname",
    "parcel_id",
    "parcel__tracking_no",
    "parcel__courier__code",
    "parcel__status",
)
REFUND_FIELDS = ("id", "after_sale_id", "kind", "amount", "actor", "reason", "created_at")
OPEN_STATUSES = frozenset(AfterSale.OPEN_STATUSES)


def after_sale_json(after_sale: AfterSale) -> dict:
    """`after_sale` from api.selectors (order, line, buyer, parcel's courier joined; refunds prefetched)."""
    parcel = after_sale.parcel
    row = {
        name: getattr(after_sale, name) for name in AFTER_SALE_FIELDS if "__" not in name and name != "parcel_id"
    } | {
        "order__order_no": after_sale.order.order_no,
        "line__line_no": after_sale.line.line_no,
        "buyer__external_id": after_sale.buyer.external_id,
        "buyer__nickname": after_sale.buyer.nickname,
        "parcel_id": after_sale.parcel_id,
        "parcel__tracking_no": parcel.tracking_no if parcel else None,
        "parcel__courier__code": parcel.courier.code if parcel else None,
        "parcel__status": parcel.status if parcel else None,
    }
    refunds = [{name: getattr(entry, name) for name in REFUND_FIELDS} for entry in after_sale.refunds.all()]
    return after_sale_row_json(row, refunds)


def after_sale_row_json(row: dict, refunds: list[dict]) -> dict:
    """The contract's after-sale from a row of AFTER_SALE_FIELDS and its refunds' rows, oldest first."""
    order_no, line_no, after_sale_no = row["order__order_no"], row["line__line_no"], row["after_sale_no"]
    tz = timezone.get_current_timezone()  # once, not for each of the row's moments
    return {
        "after_sale_no": after_sale_no,
        "order_no": order_no,
        "line_no": line_no,
        "type": row["type"],
        "status": row["status"],
        "reason": row["reason"],
        "note": row["buyer_note"],
        "amount": money(row["amount"]),
        "refunded_amount": money(row["refunded_amount"]),
        "sequence": row["sequence"],
        "multi_refund": row["multi_refund"],
        "deadline": when(row["deadline"], tz) if row["status"] in OPEN_STATUSES else None,
        "flag": row["flag"],
        "remark": row["remark"],
        "version": row["version"],
        "created_at": when(row["applied_at"], tz),
        "updated_at": when(row["updated_at"], tz),
        "buyer": {"id": row["buyer__external_id"], "nickname": row["buyer__nickname"]},
        "parcel": (
            {
                "tracking_no": row["parcel__tracking_no"],
                "courier": row["parcel__courier__code"],
                "status": row["parcel__status"],
            }
            if row["parcel_id"] is not None
            else None
        ),
        "refunds": [
            refund_row_json(refund, order_no=order_no, line_no=line_no, after_sale_no=after_sale_no, tz=tz)
            for refund in refunds
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
