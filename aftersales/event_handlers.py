"""The after-sales event types, and the after-sales reaction to `parcel.status`."""

from dataclasses import dataclass
from decimal import Decimal

from shop.platform_events.payload import Reader
from shop.platform_events.registry import EventContext, add_applier, register_type

from . import services
from .models import AfterSale
from .serializers import after_sale_json


@dataclass(frozen=True)
class Applied:
    after_sale_no: str
    order_no: str
    line_no: str
    type: str
    reason: str
    amount: Decimal
    note: str


def parse_applied(data: Reader) -> Applied:
    return Applied(
        after_sale_no=data.str("after_sale_no", max_length=64),
        order_no=data.str("order_no", max_length=64),
        line_no=data.str("line_no", max_length=20),
        type=data.choice("type", AfterSale.Type.values),
        reason=data.choice("reason", AfterSale.Reason.values),
        amount=data.money("amount"),
        note=data.str("note", max_length=500, required=False),
    )


def apply_applied(ctx: EventContext) -> None:
    event: Applied = ctx.data
    after_sale = services.apply_for_after_sale(
        after_sale_no=event.after_sale_no,
        order_no=event.order_no,
        line_no=event.line_no,
        type=event.type,
        reason=event.reason,
        amount=event.amount,
        note=event.note,
        at=ctx.occurred_at,
    )
    ctx.state["after_sale"] = after_sale
    ctx.outcome["after_sale"] = after_sale_json(after_sale)


@dataclass(frozen=True)
class Cancelled:
    after_sale_no: str


def parse_cancelled(data: Reader) -> Cancelled:
    return Cancelled(after_sale_no=data.str("after_sale_no", max_length=64))


def apply_cancelled(ctx: EventContext) -> None:
    after_sale = services.cancel_after_sale(after_sale_no=ctx.data.after_sale_no, at=ctx.occurred_at)
    ctx.outcome["after_sale"] = after_sale_json(after_sale)


@dataclass(frozen=True)
class ReturnShipped:
    after_sale_no: str
    tracking_no: str
    courier: str


def parse_return_shipped(data: Reader) -> ReturnShipped:
    return ReturnShipped(
        after_sale_no=data.str("after_sale_no", max_length=64),
        tracking_no=data.str("tracking_no", max_length=64),
        courier=data.str("courier", max_length=20),
    )


def apply_return_shipped(ctx: EventContext) -> None:
    event: ReturnShipped = ctx.data
    after_sale = services.record_return_shipped(
        after_sale_no=event.after_sale_no, tracking_no=event.tracking_no, courier=event.courier, at=ctx.occurred_at
    )
    ctx.outcome["after_sale"] = after_sale_json(after_sale)


def apply_parcel_status(ctx: EventContext) -> None:
    """After the shop moved the parcel: the 48-hour rule and a trusted buyer's instant refund."""
    result = ctx.state["parcel_status"]
    if not result.moved or result.previous_status == result.parcel.status:
        return
    changed = services.react_to_parcel_status(parcel=result.parcel, status=result.parcel.status, at=ctx.data.at)
    ctx.outcome["after_sales"] = [after_sale_json(after_sale) for after_sale in changed]


def register() -> None:
    register_type("aftersale.applied", parse_applied)
    add_applier("aftersale.applied", apply_applied, order=20)
    register_type("aftersale.cancelled", parse_cancelled)
    add_applier("aftersale.cancelled", apply_cancelled, order=20)
    register_type("aftersale.return_shipped", parse_return_shipped)
    add_applier("aftersale.return_shipped", apply_return_shipped, order=20)
    add_applier("parcel.status", apply_parcel_status, order=20)
