"""Reads for the interception pages, always scoped to the viewer: a merchant's shop or an outlet."""

from dataclasses import dataclass

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet
from django.utils.translation import gettext as _

from shop.models import Courier, Outlet, Shop

from .models import Partnership, PartnershipLog, ServiceOrder
from .partnerships import outlet_blocker

_LOGS = Prefetch("logs", queryset=PartnershipLog.objects.select_related("user").order_by("at", "id"))


# --- merchants -------------------------------------------------------------------------------------


def partnerships_for_shop(*, shop: Shop) -> QuerySet[Partnership]:
    """The shop's partnerships, newest first, with outlet and courier joined."""
    return Partnership.objects.filter(shop=shop).select_related("outlet__courier").order_by("-created_at", "-id")


def partnership_detail_for_shop(*, shop: Shop) -> QuerySet[Partnership]:
    """The shop's partnerships with their history, for the detail page."""
    return partnerships_for_shop(shop=shop).select_related("proposed_by").prefetch_related(_LOGS)


def offline_settlement_couriers() -> QuerySet[Courier]:
    """Couriers that offer offline settlement today (a courier's flag, not a list in code)."""
    return Courier.objects.filter(supports_offline_settlement=True).order_by("code")


@dataclass(frozen=True)
class OutletChoice:
    """One outlet of the apply form: `blocker` says why it cannot be chosen, or is empty."""

    outlet: Outlet
    blocker: str

    @property
    def selectable(self) -> bool:
        return not self.blocker


def outlet_choices_for_shop(*, shop: Shop, courier: Courier) -> list[OutletChoice]:
    """The courier's outlets for the shop's apply form, each with the reason it cannot be chosen, if any.

    Besides `outlet_blocker` (no e-waybill, courier without offline settlement), an outlet that already
    has a pending or active partnership with this shop cannot be chosen again.
    """
    live = Partnership.objects.filter(shop=shop, outlet=OuterRef("pk"), status__in=Partnership.LIVE_STATUSES)
    outlets = (
        Outlet.objects.filter(courier=courier).select_related("courier").annotate(live=Exists(live)).order_by("code")
    )
    choices = []
    for outlet in outlets:
        blocker = outlet_blocker(outlet)
        if blocker is None and outlet.live:
            blocker = _("your shop already has a pending or active partnership with this outlet")
        choices.append(OutletChoice(outlet=outlet, blocker=blocker or ""))
    return choices


# --- outlets ---------------------------------------------------------------------------------------


def partnerships_for_outlet(*, outlet: Outlet, statuses=None) -> QuerySet[Partnership]:
    """The outlet's partnerships (optionally only some statuses), with the shop joined."""
    queryset = Partnership.objects.filter(outlet=outlet).select_related("shop", "outlet__courier")
    if statuses is not None:
        queryset = queryset.filter(status__in=statuses)
    return queryset.order_by("-created_at", "-id")


def partnership_detail_for_outlet(*, outlet: Outlet) -> QuerySet[Partnership]:
    """The outlet's partnerships with their history, for the detail page."""
    return partnerships_for_outlet(outlet=outlet).prefetch_related(_LOGS)


def service_orders_for_outlet(*, outlet: Outlet) -> QuerySet[ServiceOrder]:
    """Interception service orders of parcels sent from this outlet: its list page and CSV export."""
    return (
        ServiceOrder.objects.filter(outlet=outlet)
        .select_related("shop", "parcel", "courier")
        .order_by("-created_at", "-id")
    )


def shops_for_outlet(*, outlet: Outlet) -> QuerySet[Shop]:
    """Shops the outlet deals with (a service order or a partnership): the choices of its shop filter.

    Never every shop of the platform: an outlet learns no shop it has nothing to do with.
    """
    return Shop.objects.filter(
        Q(Exists(ServiceOrder.objects.filter(outlet=outlet, shop=OuterRef("pk"))))
        | Q(Exists(Partnership.objects.filter(outlet=outlet, shop=OuterRef("pk"))))
    ).order_by("name")
