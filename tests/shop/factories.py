"""Shop objects for tests, written straight to the database: shops, couriers, outlets, users, orders,
parcels; and a client that posts signed platform events the way the platform does."""

import itertools
import json
import time
from datetime import datetime
from decimal import Decimal

from django.conf import settings

from shop.localtime import SHANGHAI
from shop.models import Buyer, Courier, Order, OrderLine, Outlet, Parcel, Shop, TrackingEvent, User
from shop.permissions import groups_for
from shop.signing import sign

_seq = itertools.count(1)


def at(text: str) -> datetime:
    """An aware Asia/Shanghai datetime from "2026-11-22 10:15"."""
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


def make_shop(code: str = "", **kwargs) -> Shop:
    code = code or f"shop-{next(_seq)}"
    return Shop.objects.create(code=code, name=kwargs.pop("name", code), **kwargs)


def make_courier(code: str = "YTO", **kwargs) -> Courier:
    defaults = {
        "name": code,
        "supports_offline_settlement": code in ("YTO", "JT"),
        "outlet_approval_required": code != "YTO",
    }
    defaults.update(kwargs)
    courier, _ = Courier.objects.get_or_create(code=code, defaults=defaults)
    return courier


def make_outlet(courier: Courier | None = None, code: str = "", **kwargs) -> Outlet:
    courier = courier or make_courier()
    code = code or f"{courier.code}-SH-{next(_seq):03d}"
    defaults = {"name": f"{code} 网点", "region": "上海", "uses_platform_ewaybill": True}
    defaults.update(kwargs)
    return Outlet.objects.create(courier=courier, code=code, **defaults)


def make_merchant(shop: Shop, username: str = "", role: str = "owner") -> User:
    username = username or f"merchant-{next(_seq)}"
    return User.objects.create_user(username=username, password="pw", kind="merchant", shop=shop, shop_role=role)


def make_outlet_user(outlet: Outlet, username: str = "", role: str = "manager") -> User:
    username = username or f"outlet-{next(_seq)}"
    return User.objects.create_user(username=username, password="pw", kind="outlet", outlet=outlet, outlet_role=role)


def make_member(shop: Shop, *sets: str, username: str = "") -> User:
    """A staff member (not the owner) of the shop with exactly these permission sets."""
    user = make_merchant(shop, username=username or f"member-{next(_seq)}", role="agent")
    user.groups.set(groups_for(sets))
    return user


def make_outlet_clerk(outlet: Outlet, *sets: str, username: str = "") -> User:
    """A clerk (not the manager) of the outlet with exactly these permission sets."""
    user = make_outlet_user(outlet, username=username or f"clerk-{next(_seq)}", role="clerk")
    user.groups.set(groups_for(sets))
    return user


def make_operator(username: str = "") -> User:
    username = username or f"operator-{next(_seq)}"
    return User.objects.create_user(username=username, password="pw", kind="operator", is_staff=True, is_superuser=True)


def make_order(
    shop: Shop,
    *,
    order_no: str = "",
    status: str = Order.Status.PREPARING,
    lines: list[dict] | None = None,
    buyer: Buyer | None = None,
    paid_at: datetime | None = None,
) -> Order:
    buyer = buyer or Buyer.objects.create(external_id=f"b-{next(_seq)}", nickname="小王")
    lines = lines or [{"paid_amount": Decimal("100.00")}]
    order = Order.objects.create(
        shop=shop,
        buyer=buyer,
        order_no=order_no or f"O-{next(_seq)}",
        status=status,
        paid_amount=sum(Decimal(line["paid_amount"]) for line in lines),
        paid_at=paid_at or at("2026-11-20 09:00"),
    )
    for i, line in enumerate(lines, start=1):
        OrderLine.objects.create(
            order=order,
            line_no=line.get("line_no", str(i)),
            title=line.get("title", "保温杯"),
            category=line.get("category", "home"),
            quantity=line.get("quantity", 1),
            paid_amount=Decimal(line["paid_amount"]),
            domestic_physical=line.get("domestic_physical", True),
        )
    return order


def make_parcel(
    order: Order,
    *,
    outlet: Outlet | None = None,
    tracking_no: str = "",
    status: str = Parcel.Status.IN_TRANSIT,
    shipped_at: datetime | None = None,
) -> Parcel:
    outlet = outlet or make_outlet()
    shipped_at = shipped_at or at("2026-11-20 18:00")
    parcel = Parcel.objects.create(
        order=order,
        courier=outlet.courier,
        outlet=outlet,
        tracking_no=tracking_no or f"T{next(_seq):010d}",
        status=status,
        status_at=shipped_at,
        shipped_at=shipped_at,
    )
    parcel.lines.set(order.lines.all())
    TrackingEvent.objects.create(parcel=parcel, status=status, at=shipped_at)
    return parcel


class EventsClient:
    """Posts signed platform events the way the platform does."""

    def __init__(self, client):
        self.client = client

    def post_raw(self, body: bytes, *, timestamp: int | None = None, signature: str | None = None, secret=None):
        ts = int(time.time()) if timestamp is None else timestamp
        sig = signature if signature is not None else sign(body, ts, secret or settings.PLATFORM_EVENTS_SECRET)
        return self.client.post(
            "/api/platform/events",
            data=body,
            content_type="application/json",
            headers={"X-Platform-Timestamp": str(ts), "X-Platform-Signature": sig},
        )

    def send(self, event_type: str, data: dict, *, event_id: str = "", occurred_at: str = "2026-11-22T10:15:00+08:00"):
        body = {"id": event_id or f"evt-{next(_seq)}", "type": event_type, "occurred_at": occurred_at, "data": data}
        return self.post_raw(json.dumps(body, ensure_ascii=False).encode())
