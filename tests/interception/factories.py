"""Interception rows for tests: partnerships, service orders, refund-only after-sales on a parcel in transit.

Each builds real rows through the models or the services, as the pages and tasks would find them.
"""

import itertools
from decimal import Decimal

from aftersales import services as aftersales_services
from interception.models import Partnership, PartnershipLog, ServiceOrder
from shop.models import Order, Parcel
from tests.aftersales.factories import make_after_sale
from tests.shop.factories import at, make_order, make_parcel

_seq = itertools.count(1)


def make_refund_only_in_transit(shop, outlet, *, order_no="O-1001", status=Parcel.Status.IN_TRANSIT, amount="129.00"):
    """A refund-only, not-received after-sale (through the service) on a line of `amount` whose parcel,
    sent from `outlet`, is in `status`."""
    order = make_order(shop, order_no=order_no, status=Order.Status.SHIPPED, lines=[{"paid_amount": amount}])
    make_parcel(order, outlet=outlet, tracking_no=f"YT{order_no}", status=status)
    return aftersales_services.apply_for_after_sale(
        after_sale_no=f"AS-{order_no}",
        order_no=order_no,
        line_no="1",
        type="refund_only",
        reason="not_received",
        amount=Decimal(amount),
        note="",
        at=at("2026-11-22 10:00"),
    )


def make_partnership(
    shop, outlet, *, status=Partnership.Status.PENDING, fee="4.50", note="", applied_at=None
) -> Partnership:
    partnership = Partnership.objects.create(
        shop=shop, outlet=outlet, fee=Decimal(fee), status=status, outlet_note=note
    )
    PartnershipLog.objects.create(
        partnership=partnership, from_status="", to_status=Partnership.Status.PENDING, note="applied"
    )
    if applied_at:
        Partnership.objects.filter(pk=partnership.pk).update(created_at=applied_at)
        partnership.refresh_from_db()
    return partnership


def make_service_order(
    shop,
    outlet,
    *,
    tracking_no="",
    mode="online",
    fee="3.00",
    status="succeeded",
    launched_at=None,
    succeeded_at=None,
    failure_reason="",
) -> ServiceOrder:
    """A service order in `status` written directly (no carrier, no fee row), on an order and parcel of its own."""
    n = next(_seq)
    order = make_order(shop, order_no=f"O-SO-{n}", status=Order.Status.SHIPPED)
    parcel = make_parcel(order, outlet=outlet, tracking_no=tracking_no or f"JT{n:010d}")
    service_order = ServiceOrder.objects.create(
        shop=shop,
        after_sale=make_after_sale(order, parcel=parcel, after_sale_no=f"AS-SO-{n}"),
        parcel=parcel,
        courier=outlet.courier,
        outlet=outlet,
        mode=mode,
        fee=Decimal(fee),
        via="detail",
        status=status,
        succeeded_at=succeeded_at,
        failure_reason=failure_reason,
    )
    ServiceOrder.objects.filter(pk=service_order.pk).update(created_at=launched_at or at("2026-11-22 10:00"))
    service_order.refresh_from_db()
    return service_order
