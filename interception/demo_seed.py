"""Demo interception data: partnerships in every state (one pending for `outlet-jt` to approve) and
service orders in every status, with results dated in the past so the claim windows vary.
"""

import random
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import transaction

from aftersales import services as aftersales_services
from aftersales.models import AfterSale
from shop.models import Order, Outlet, Parcel, Shop, User

from . import services
from .models import AssistantRule, Partnership, ServiceOrder
from .services import partnerships

PARTNERSHIPS = [
    # shop, outlet, fee, what happens next
    ("demo-shop", "YTO-SH-001", "2.50", "active"),  # YTO: effective at once
    ("demo-shop", "JT-SH-001", "2.80", "pending"),  # waits for outlet-jt
    ("demo-shop", "JT-YW-002", "2.60", "rejected"),
    ("demo-shop", "YTO-HZ-002", "2.40", "ended"),
    ("demo-global", "YTO-SH-001", "2.70", "active"),
]

# (status the service order ends in, days ago it was launched, via, return failure)
SERVICE_ORDERS = [
    ("succeeded", 2, "detail", ""),
    ("succeeded", 5, "bulk", ""),
    ("returning", 8, "bulk", ""),
    ("return_failed", 9, "im_card", "lost"),  # inside the claim window
    ("return_failed", 12, "bulk", "damaged"),  # inside the claim window
    ("returned", 15, "assistant_rule", ""),
    ("succeeded", 20, "paste", ""),  # never came back: inside the window
    ("return_failed", 40, "bulk", "lost"),  # window closed
    ("failed", 3, "detail", ""),
    ("failed", 1, "bulk", ""),
    ("processing", 0, "bulk", ""),
    ("submitted", 0, "detail", ""),
]


def seed(*, stdout, rng: random.Random, now: datetime) -> None:
    shop = Shop.objects.filter(code="demo-shop").first()
    if shop is None or Partnership.objects.filter(shop=shop).exists():
        return
    owner = User.objects.filter(shop=shop, shop_role="owner").order_by("pk").first()
    seed_partnerships(owner)
    # The assistant rule is on in the demo, so `simulate --after-sales` shows interceptions happen
    # by themselves: refund-only requests up to 500 yuan on a parcel in transit, any courier.
    AssistantRule.objects.update_or_create(
        shop=shop, defaults={"enabled": True, "min_amount": Decimal("0.00"), "max_amount": Decimal("500.00")}
    )
    made = seed_service_orders(shop, owner, rng, now)
    stdout.write(f"Interception demo: {len(PARTNERSHIPS)} partnerships, {made} service orders.")


def seed_partnerships(owner) -> None:
    outlet_staff = {
        u.outlet_id: u for u in User.objects.filter(kind=User.Kind.OUTLET, outlet_role=User.OutletRole.MANAGER)
    }
    for shop_code, outlet_code, fee, fate in PARTNERSHIPS:
        shop = Shop.objects.get(code=shop_code)
        outlet = Outlet.objects.select_related("courier").get(code=outlet_code)
        user = owner if shop_code == "demo-shop" else User.objects.filter(shop=shop).first()
        (partnership,) = partnerships.apply_for_partnerships(
            shop=shop, user=user, courier_code=outlet.courier.code, outlet_ids=[outlet.pk], fee=Decimal(fee)
        )
        staff = outlet_staff.get(outlet.pk)
        if fate == "rejected":
            partnerships.reject_partnership(
                partnership_id=partnership.pk, outlet=outlet, user=staff, note="本网点暂不承接线下结算拦截"
            )
        elif fate == "ended":
            partnerships.end_partnership(partnership_id=partnership.pk, shop=shop, user=user, note="改用线上拦截")


def seed_service_orders(shop: Shop, owner, rng: random.Random, now: datetime) -> int:
    """Buyers' refund-only requests on parcels still on their way, each intercepted and answered.

    They use orders no after-sale touches yet, so the workbench keeps its own in-transit requests
    for the demo of a bulk interception.
    """
    orders = list(
        Order.objects.filter(
            shop=shop,
            parcels__status__in=[Parcel.Status.COLLECTED, Parcel.Status.IN_TRANSIT],
        )
        .exclude(after_sales__isnull=False)
        .distinct()
        .order_by("pk")
    )
    rng.shuffle(orders)
    made = 0
    # Results are applied here by hand: no carrier task is queued (enqueue=False).
    for (status, days, via, failure), order in zip(SERVICE_ORDERS, orders, strict=False):
        launched_at = now - timedelta(days=days, hours=rng.uniform(1, 5))
        line = order.lines.order_by("line_no").first()
        with transaction.atomic():
            after_sale = aftersales_services.apply_for_after_sale(
                after_sale_no=f"AS-DSI{order.pk:05d}",
                order_no=order.order_no,
                line_no=line.line_no,
                type=AfterSale.Type.REFUND_ONLY,
                reason=AfterSale.Reason.NOT_RECEIVED,
                amount=line.paid_amount,
                note="快递一直没到，不想要了",
                at=launched_at - timedelta(hours=1),
            )
        with transaction.atomic():
            created, _skipped = services.launch_interceptions(
                shop=shop,
                user=None if via == "assistant_rule" else owner,
                after_sale_ids=[after_sale.pk],
                via=via,
                enqueue=False,
                at=launched_at,
            )
        if not created:
            continue
        made += 1
        _finish(created[0].pk, status, launched_at, failure)
    return made


def _finish(service_order_id: int, status: str, launched_at, failure: str) -> None:
    if status == "submitted":
        return
    ServiceOrder.objects.filter(pk=service_order_id).update(status="processing", attempts=1)
    if status == "processing":
        ServiceOrder.objects.filter(pk=service_order_id).update(carrier_ref=f"DEMO-{service_order_id}")
        return
    result_at = launched_at + timedelta(minutes=2)
    if status == "failed":
        services.apply_result(
            service_order_id=service_order_id,
            status="failed",
            occurred_at=result_at,
            reason="派送员已出发，拦截失败",
        )
        return
    services.apply_result(service_order_id=service_order_id, status="succeeded", occurred_at=result_at)
    if status in ("returning", "returned", "return_failed"):
        services.apply_result(
            service_order_id=service_order_id, status="returning", occurred_at=result_at + timedelta(days=1)
        )
    if status in ("returned", "return_failed"):
        final = "returned" if status == "returned" else "return_failed"
        services.apply_result(
            service_order_id=service_order_id,
            status=final,
            occurred_at=result_at + timedelta(days=3),
            return_failure=failure,
        )
