"""After-sales objects for tests: after-sales written straight to the database (`make_after_sale`, and
`make_after_sale_on_new_order` for one on its own order and parcel), applications through the service
(`apply`, `awaiting_receipt`), evidence uploads, the merchant's action posts, and a whole-state snapshot."""

import itertools
import struct
import zlib
from datetime import datetime, timedelta
from decimal import Decimal

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from aftersales import services
from aftersales.models import AfterSale, AfterSaleLog, BuyerNotification, EvidenceImage, RefundEntry
from shop.models import Buyer, Order, OrderLine, Parcel, PlatformEvent
from tests.shop.factories import at, make_order, make_parcel

_seq = itertools.count(1)
_new_order_seq = itertools.count(1)
UNSET = object()


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
    refunded: str | Decimal = "0.00",
    multi_refund: bool = False,
    flag: str = "",
    remark: str = "",
    closed_at=UNSET,
    keep_deadline: bool = False,
) -> AfterSale:
    """An after-sale in any status, written straight to the database (the services are under test).

    Without a deadline an open after-sale gets one (2026-11-24 10:15) and a closed one none; a closed one
    is closed when it was applied for. `keep_deadline`: the deadline exactly as given, None included.
    """
    line = line or order.lines.order_by("line_no").first()
    applied_at = applied_at or at("2026-11-22 10:15")
    if keep_deadline:
        pass
    elif deadline is None and status in AfterSale.OPEN_STATUSES and status != AfterSale.Status.ARBITRATION:
        deadline = at("2026-11-24 10:15")
    elif status not in AfterSale.OPEN_STATUSES:
        deadline = None
    if closed_at is UNSET:
        closed_at = None if status in AfterSale.OPEN_STATUSES else applied_at
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
        refunded_amount=Decimal(refunded),
        status=status,
        sequence=sequence or AfterSale.objects.filter(order=order).count() + 1,
        multi_refund=multi_refund,
        deadline=deadline,
        flag=flag,
        remark=remark,
        applied_at=applied_at,
        closed_at=closed_at,
    )


def make_after_sale_on_new_order(
    shop,
    *,
    no: str = "",
    status: str = AfterSale.Status.PENDING_MERCHANT,
    type: str = AfterSale.Type.REFUND_ONLY,
    reason: str = AfterSale.Reason.NOT_RECEIVED,
    amount: str = "50.00",
    refunded: str = "0.00",
    parcel_status: str | None = None,
    outlet=None,
    tracking_no: str = "",
    deadline=UNSET,
    applied_at=None,
    flag: str = "",
    remark: str = "",
    multi_refund: bool = False,
    sequence: int = 1,
    buyer: Buyer | None = None,
    order_no: str = "",
    title: str = "保温杯",
) -> AfterSale:
    """An after-sale on its own shipped order of one 1000.00 line (and parcel, given its status), written
    straight to the database: a workbench row. Open ones are due in 40 hours unless `deadline` says."""
    order = make_order(
        shop,
        order_no=order_no,
        status=Order.Status.SHIPPED,
        buyer=buyer,
        lines=[{"paid_amount": "1000.00", "title": title}],
    )
    parcel = None
    if parcel_status:
        parcel = make_parcel(order, outlet=outlet, tracking_no=tracking_no, status=parcel_status)
    if deadline is UNSET:
        deadline = timezone.now() + timedelta(hours=40) if status in AfterSale.OPEN_STATUSES else None
    return make_after_sale(
        order,
        line=order.lines.get(),
        after_sale_no=no or f"AS-W{next(_new_order_seq)}",
        type=type,
        reason=reason,
        amount=amount,
        refunded=refunded,
        status=status,
        parcel=parcel,
        sequence=sequence,
        multi_refund=multi_refund,
        deadline=deadline,
        keep_deadline=True,
        flag=flag,
        remark=remark,
        applied_at=applied_at or at("2026-11-21 10:00"),
        closed_at=None,
    )


def apply(
    shop,
    *,
    no: str = "AS-1",
    type: str = AfterSale.Type.REFUND_ONLY,
    reason: str = AfterSale.Reason.QUALITY,
    amount: str = "100.00",
    paid: str = "100.00",
    parcel_status: str = Parcel.Status.SIGNED,
    order=None,
    outlet=None,
) -> AfterSale:
    """A buyer's application through the service, on a new shipped order (or on `order`'s line 1)."""
    if order is None:
        order = make_order(shop, status=Order.Status.SHIPPED, lines=[{"paid_amount": paid}])
        make_parcel(order, status=parcel_status, outlet=outlet, shipped_at=timezone.now() - timedelta(days=1))
    with transaction.atomic():
        return services.apply_for_after_sale(
            after_sale_no=no,
            order_no=order.order_no,
            line_no="1",
            type=type,
            reason=reason,
            amount=Decimal(amount),
            note="",
            at=timezone.now(),
        )


def awaiting_receipt(shop, merchant, **kwargs) -> AfterSale:
    after_sale = apply(shop, type=AfterSale.Type.RETURN_REFUND, **kwargs)
    with transaction.atomic():
        services.agree_return(after_sale_id=after_sale.pk, shop=shop, user=merchant)
    with transaction.atomic():
        return services.record_return_shipped(
            after_sale_no=after_sale.after_sale_no, tracking_no="SF1", courier="SF", at=timezone.now()
        )


def png_bytes(width: int = 2, height: int = 2) -> bytes:
    """A real, tiny PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 64 + b"\xff\xd9"
WEBP = b"RIFF" + struct.pack("<I", 30) + b"WEBPVP8 " + b"\x00" * 22


def upload(name: str, content: bytes, content_type: str = "image/png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type=content_type)


def reject_data(*files, reason="not_as_claimed", note="照片显示完好"):
    """The reject form's fields."""
    return {"reason": reason, "note": note, "evidence": list(files)}


def action_url(name: str, after_sale: AfterSale) -> str:
    return reverse(f"aftersales:{name}", kwargs={"after_sale_no": after_sale.after_sale_no})


def post(client, name, after_sale, data=None, *, version=None, follow=True):
    """Post one of the merchant's actions on the after-sale, with its current version unless told."""
    data = {"version": after_sale.version if version is None else version, **(data or {})}
    return client.post(action_url(name, after_sale), data, follow=follow)


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
