"""Handlers of the shop's own event types: order.paid, parcel.shipped, parcel.status."""

from dataclasses import dataclass
from datetime import datetime

from . import services
from .models import Parcel
from .platform_events.payload import MAX_MONEY, BadEvent, Reader
from .platform_events.registry import EventContext, add_applier, register_type


# --- order.paid ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class OrderPaid:
    shop: str
    order_no: str
    paid_at: datetime
    buyer: services.BuyerInput
    lines: list[services.LineInput]


def parse_order_paid(data: Reader) -> OrderPaid:
    shop = data.str("shop", max_length=50)
    order_no = data.str("order_no", max_length=64)
    paid_at = data.datetime("paid_at")
    buyer = data.obj("buyer")
    buyer_input = services.BuyerInput(
        external_id=buyer.str("id", max_length=64),
        nickname=buyer.str("nickname", max_length=100),
        trusted=buyer.optional_bool("trusted"),
    )
    lines, seen = [], set()
    for line in data.objects("lines"):
        line_no = line.str("line_no", max_length=20)
        if line_no in seen:
            raise BadEvent("line_no is repeated", f"{line.path}.line_no")
        seen.add(line_no)
        lines.append(
            services.LineInput(
                line_no=line_no,
                sku=line.str("sku", max_length=64, required=False),
                title=line.str("title", max_length=200),
                category=line.str("category", max_length=50),
                quantity=line.positive_int("quantity"),
                paid_amount=line.money("paid_amount"),
                domestic_physical=line.bool("domestic_physical", default=True),
            )
        )
    if sum(line.paid_amount for line in lines) > MAX_MONEY:
        raise BadEvent(f"the paid amounts of the lines must add up to at most {MAX_MONEY}", f"{data.path}.lines")
    return OrderPaid(shop=shop, order_no=order_no, paid_at=paid_at, buyer=buyer_input, lines=lines)


def apply_order_paid(ctx: EventContext) -> None:
    event: OrderPaid = ctx.data
    order = services.record_paid_order(
        shop_code=event.shop, order_no=event.order_no, paid_at=event.paid_at, buyer=event.buyer, lines=event.lines
    )
    ctx.outcome["order"] = {"order_no": order.order_no, "status": order.status}


# --- parcel.shipped ------------------------------------------------------------------------------
@dataclass(frozen=True)
class ParcelShipped:
    order_no: str
    tracking_no: str
    courier: str
    outlet: str
    line_nos: list[str]


def parse_parcel_shipped(data: Reader) -> ParcelShipped:
    return ParcelShipped(
        order_no=data.str("order_no", max_length=64),
        tracking_no=data.str("tracking_no", max_length=64),
        courier=data.str("courier", max_length=20),
        outlet=data.str("outlet", max_length=30),
        line_nos=list(dict.fromkeys(data.strings("line_nos", max_length=20))),
    )


def apply_parcel_shipped(ctx: EventContext) -> None:
    event: ParcelShipped = ctx.data
    parcel = services.ship_parcel(
        order_no=event.order_no,
        tracking_no=event.tracking_no,
        courier_code=event.courier,
        outlet_code=event.outlet,
        line_nos=event.line_nos,
        shipped_at=ctx.occurred_at,
    )
    ctx.outcome["order"] = {"order_no": parcel.order.order_no, "status": parcel.order.status}


# --- parcel.status -------------------------------------------------------------------------------
@dataclass(frozen=True)
class ParcelStatus:
    tracking_no: str
    courier: str
    status: str
    at: datetime
    note: str


def parse_parcel_status(data: Reader) -> ParcelStatus:
    return ParcelStatus(
        tracking_no=data.str("tracking_no", max_length=64),
        courier=data.str("courier", max_length=20),
        status=data.choice("status", Parcel.Status.values),
        at=data.tracking_time("at"),
        note=data.str("note", max_length=200, required=False),
    )


def apply_parcel_status(ctx: EventContext) -> None:
    event: ParcelStatus = ctx.data
    result = services.record_parcel_status(
        courier_code=event.courier, tracking_no=event.tracking_no, status=event.status, at=event.at, note=event.note
    )
    ctx.state["parcel_status"] = result
    ctx.outcome["parcel"] = {"tracking_no": result.parcel.tracking_no, "status": result.parcel.status}
    ctx.outcome.setdefault("after_sales", [])


def register() -> None:
    register_type("order.paid", parse_order_paid)
    add_applier("order.paid", apply_order_paid, order=10)
    register_type("parcel.shipped", parse_parcel_shipped)
    add_applier("parcel.shipped", apply_parcel_shipped, order=10)
    register_type("parcel.status", parse_parcel_status)
    add_applier("parcel.status", apply_parcel_status, order=10)
