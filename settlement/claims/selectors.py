"""Reads for the claim pages, always scoped to the viewer: a merchant's shop or an outlet.

Detail views look objects up in these querysets, so another tenant's claim, evidence or service
order is a 404 exactly like a missing one.
"""

from datetime import datetime

from django.db.models import Case, Exists, IntegerField, OuterRef, Prefetch, QuerySet, Value, When

from interception.models import ServiceOrder
from shop.models import Outlet, Shop

from . import rules
from .models import Claim, ClaimEvidence, ClaimLog

_LOGS = Prefetch("logs", queryset=ClaimLog.objects.select_related("user").order_by("at", "id"))
_EVIDENCE = Prefetch("evidence", queryset=ClaimEvidence.objects.order_by("id"))
_JOINS = ("shop", "outlet__courier", "service_order__parcel", "service_order__after_sale__line")


def _with_status(queryset: QuerySet[Claim], status: str | None) -> QuerySet[Claim]:
    return queryset.filter(status=status) if status else queryset


# --- merchants ---------------------------------------------------------------------------------------


def claims_for_shop(*, shop: Shop, status: str | None = None) -> QuerySet[Claim]:
    """The shop's claims (optionally of one status), newest first."""
    return _with_status(Claim.objects.filter(shop=shop), status).select_related(*_JOINS).order_by("-filed_at", "-id")


def claim_detail_for_shop(*, shop: Shop) -> QuerySet[Claim]:
    return claims_for_shop(shop=shop).select_related("filed_by").prefetch_related(_LOGS, _EVIDENCE)


def claim_evidence_for_shop(*, shop: Shop, claim_id: int) -> QuerySet[ClaimEvidence]:
    return ClaimEvidence.objects.filter(claim__shop=shop, claim_id=claim_id)


def service_orders_for_claims(*, shop: Shop) -> QuerySet[ServiceOrder]:
    """The shop's service orders as the claim form needs them (any status: the page says why not)."""
    return ServiceOrder.objects.filter(shop=shop).select_related(
        "parcel", "courier", "outlet", "after_sale__line", "after_sale__order"
    )


def live_claim_of(service_order: ServiceOrder) -> Claim | None:
    return (
        Claim.objects.filter(service_order=service_order, status__in=Claim.LIVE_STATUSES).order_by("-filed_at").first()
    )


def claim_tracker_for_shop(*, shop: Shop, now: datetime, window: str = "") -> QuerySet[ServiceOrder]:
    """Intercepted parcels not back (succeeded, returning, return failed) with no live claim.

    Sorted by the day their claim window closes, which follows the success time; windows already
    closed come last. `window`: "" all, "upcoming" (not open yet), "open" (open now), "closed".
    """
    live = Claim.objects.filter(service_order=OuterRef("pk"), status__in=Claim.LIVE_STATUSES)
    closed_before = rules.window_closed_before(now)
    opened_by = now - rules.CLAIM_WINDOW_OPENS  # succeeded at or before: the window has opened
    queryset = (
        ServiceOrder.objects.filter(shop=shop, status__in=rules.CLAIMABLE_STATUSES, succeeded_at__isnull=False)
        .exclude(Exists(live))
        .select_related("parcel", "courier", "outlet", "after_sale__line")
        .annotate(
            window_closed=Case(
                When(succeeded_at__lt=closed_before, then=Value(1)), default=Value(0), output_field=IntegerField()
            )
        )
    )
    if window == "upcoming":
        queryset = queryset.filter(succeeded_at__gt=opened_by)
    elif window == "open":
        queryset = queryset.filter(succeeded_at__lte=opened_by, succeeded_at__gte=closed_before)
    elif window == "closed":
        queryset = queryset.filter(succeeded_at__lt=closed_before)
    return queryset.order_by("window_closed", "succeeded_at", "id")


# --- outlets -----------------------------------------------------------------------------------------


def claims_for_outlet(*, outlet: Outlet, status: str | None = None) -> QuerySet[Claim]:
    """Claims on interceptions of parcels sent from this outlet, newest first."""
    return (
        _with_status(Claim.objects.filter(outlet=outlet), status).select_related(*_JOINS).order_by("-filed_at", "-id")
    )


def unpaid_reminded_for_outlet(*, outlet: Outlet) -> QuerySet[Claim]:
    """The outlet's accepted claims it was reminded to pay and has not paid yet."""
    return Claim.objects.filter(outlet=outlet, status=Claim.Status.ACCEPTED, payment_reminded_at__isnull=False)


def claim_detail_for_outlet(*, outlet: Outlet) -> QuerySet[Claim]:
    return claims_for_outlet(outlet=outlet).prefetch_related(_LOGS, _EVIDENCE)


def claim_evidence_for_outlet(*, outlet: Outlet, claim_id: int) -> QuerySet[ClaimEvidence]:
    return ClaimEvidence.objects.filter(claim__outlet=outlet, claim_id=claim_id)
