"""The SELECT … FOR UPDATE helpers of settlement: a write locks its row here, then checks, then writes.

Lock order: the platform's, written once in `aftersales.locks` (order → line → parcel → after-sale →
service order → refund). Settlement's rows come after the rows they refer to: a claim after its
service order (filing locks the service order, then creates the claim); a statement locks alone
(its lines are fee charges that are already written, and nothing else is locked with it).

Each helper is scoped like the selectors: a row the caller may not see (another shop's or outlet's)
is `NotFound`, exactly like a missing one. On SQLite `select_for_update()` is a no-op; correctness
there rests on the IMMEDIATE transactions of the settings.
"""

from django.utils.translation import gettext as _

from interception.models import ServiceOrder
from shop.errors import NotFound
from shop.models import Outlet, Shop

from .models import Claim, Statement


def statement(statement_id: int, *, shop: Shop | None = None, outlet: Outlet | None = None) -> Statement:
    """The statement row, locked, within the caller's shop or outlet (when given)."""
    scope = {key: value for key, value in (("shop", shop), ("outlet", outlet)) if value is not None}
    locked = Statement.objects.select_for_update().filter(pk=statement_id, **scope).first()
    if locked is None:
        raise NotFound(_("Statement not found."))
    return locked


def service_order_for_claim(service_order_id: int, *, shop: Shop) -> ServiceOrder:
    """The shop's service order, locked (with its line joined, unlocked): two filings on it are serialised,
    and so is a carrier result arriving meanwhile."""
    locked = (
        ServiceOrder.objects.select_for_update(of=("self",))
        .select_related("after_sale__line")
        .filter(pk=service_order_id, shop=shop)
        .first()
    )
    if locked is None:
        raise NotFound(_("Service order not found."))
    return locked


def claim(claim_id: int, *, shop: Shop | None = None, outlet: Outlet | None = None) -> Claim:
    """The claim row, locked, within the caller's shop or outlet (when given)."""
    scope = Claim.objects.select_for_update(of=("self",)).filter(pk=claim_id)
    if shop is not None:
        scope = scope.filter(shop=shop)
    if outlet is not None:
        scope = scope.filter(outlet=outlet)
    locked = scope.first()
    if locked is None:
        raise NotFound(_("Claim not found."))
    return locked
