"""Interception's row locks (SELECT … FOR UPDATE): every write locks through here, then checks.

Lock order: the platform's, written once in `aftersales.locks.LOCK_ORDER` (order → line → parcel →
after-sale → service order → refund). A result locks the order, line and after-sale, then the service
order with its parcel: the order always comes first, so the two writers that take a parcel (a
tracking event, an interception result) queue on the order and never deadlock. Partnerships and
assistant rules are locked alone: no write holds them with any of the above.
"""

from collections.abc import Iterable

from django.utils.translation import gettext as _

from aftersales import locks as aftersales_locks
from aftersales.models import AfterSale
from shop.errors import NotFound
from shop.models import Outlet, Shop

from .models import AssistantRule, Partnership, ServiceOrder


def after_sales(after_sale_ids: Iterable[int], *, shop: Shop) -> dict[int, AfterSale]:
    """The shop's after-sales with their orders and lines, locked in the lock order (a launch)."""
    return aftersales_locks.lock_after_sales(after_sale_ids, shop=shop)


def service_order(service_order_id: int) -> ServiceOrder:
    """Lock order → line → after-sale, then the service order and its parcel; `after_sale` is the locked one."""
    ids = (
        ServiceOrder.objects.filter(pk=service_order_id)
        .values("after_sale_id", "after_sale__order_id", "after_sale__line_id")
        .first()
    )
    if ids is None:
        raise NotFound(_("Service order not found."))
    after_sale = aftersales_locks.lock_after_sale(
        ids["after_sale_id"], order_id=ids["after_sale__order_id"], line_id=ids["after_sale__line_id"]
    )
    # The parcel too (as record_parcel_status would, after the order): results move it with no other lookup.
    locked = (
        ServiceOrder.objects.select_for_update(of=("self", "parcel"))
        .select_related("parcel__courier")
        .get(pk=service_order_id)
    )
    locked.after_sale = after_sale
    return locked


def pending_service_orders(service_order_ids: Iterable[int]) -> list[ServiceOrder]:
    """The given service orders still waiting for the carrier, locked by id (the carrier task's chunk).

    Only the service orders: the task moves them to "processing" and touches nothing else.
    """
    return list(
        ServiceOrder.objects.select_for_update(of=("self",))
        .select_related("parcel__courier")
        .filter(pk__in=list(service_order_ids), status__in=ServiceOrder.PENDING_STATUSES)
        .order_by("pk")
    )


def partnership_for_outlet(partnership_id: int, *, outlet: Outlet) -> Partnership:
    """One of the outlet's partnerships, locked; another outlet's is NotFound, like a missing one."""
    partnership = Partnership.objects.select_for_update().filter(pk=partnership_id, outlet=outlet).first()
    if partnership is None:
        raise NotFound(_("Partnership not found."))
    return partnership


def partnership_for_shop(partnership_id: int, *, shop: Shop) -> Partnership:
    """One of the shop's partnerships, locked; another shop's is NotFound, like a missing one."""
    partnership = Partnership.objects.select_for_update().filter(pk=partnership_id, shop=shop).first()
    if partnership is None:
        raise NotFound(_("Partnership not found."))
    return partnership


def assistant_rule(*, shop: Shop) -> AssistantRule:
    """The shop's assistant rule row, locked; created with the defaults (off) if it has none yet."""
    AssistantRule.objects.get_or_create(shop=shop)
    return AssistantRule.objects.select_for_update().get(shop=shop)
