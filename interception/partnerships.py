"""Partnerships for offline settlement: apply, approve, reject, end. Every step in the history."""

from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from shop.errors import DomainError, NotFound
from shop.models import Courier, Outlet, Shop

from .models import Partnership, PartnershipLog

P = Partnership.Status


def outlet_blocker(outlet: Outlet) -> str | None:
    """Why the merchant cannot choose this outlet for offline settlement, or None."""
    if not outlet.courier.supports_offline_settlement:
        return _("%(courier)s does not offer offline settlement") % {"courier": outlet.courier.name}
    if not outlet.uses_platform_ewaybill:
        return _("the outlet does not use the platform e-waybill")
    return None


def _log(partnership, from_status, to_status, user, note=""):
    PartnershipLog.objects.create(
        partnership=partnership, from_status=from_status, to_status=to_status, user=user, note=note[:300]
    )


@transaction.atomic
def apply_for_partnerships(*, shop: Shop, user, courier_code: str, outlet_ids: list[int], fee: Decimal):
    """Open offline settlement with one or more outlets of a courier at a proposed fee per parcel.

    Couriers that need no outlet approval (YTO) make the partnership effective at once.
    """
    courier = Courier.objects.filter(code=courier_code, supports_offline_settlement=True).first()
    if courier is None:
        raise DomainError(_("This courier does not offer offline settlement."), code="courier")
    if fee <= 0:
        raise DomainError(_("The fee per parcel must be more than 0.00 yuan."), code="fee")
    outlets = list(Outlet.objects.select_related("courier").filter(pk__in=outlet_ids, courier=courier).order_by("pk"))
    if not outlets or len(outlets) != len(set(outlet_ids)):
        raise DomainError(_("Choose one or more outlets of this courier."), code="outlets")
    created = []
    now = timezone.now()
    for outlet in outlets:
        if blocker := outlet_blocker(outlet):
            raise DomainError(f"{outlet.code}: {blocker}", code="outlet")
        status = P.PENDING if courier.outlet_approval_required else P.ACTIVE
        try:
            with transaction.atomic():
                partnership = Partnership.objects.create(
                    shop=shop,
                    outlet=outlet,
                    fee=fee,
                    status=status,
                    proposed_by=user,
                    effective_at=now if status == P.ACTIVE else None,
                )
        except IntegrityError:
            raise DomainError(
                _("%(outlet)s already has a pending or active partnership with your shop.") % {"outlet": outlet.code},
                code="exists",
            ) from None
        _log(partnership, "", P.PENDING, user, _("Applied at %(fee)s yuan per parcel") % {"fee": f"{fee:.2f}"})
        if status == P.ACTIVE:
            _log(partnership, P.PENDING, P.ACTIVE, None, _("Effective at once: no outlet approval needed"))
        created.append(partnership)
    return created


def _lock_for_outlet(partnership_id: int, outlet: Outlet) -> Partnership:
    partnership = Partnership.objects.select_for_update().filter(pk=partnership_id, outlet=outlet).first()
    if partnership is None:
        raise NotFound(_("Partnership not found."))
    return partnership


@transaction.atomic
def approve_partnership(*, partnership_id: int, outlet: Outlet, user, note: str = "") -> Partnership:
    partnership = _lock_for_outlet(partnership_id, outlet)
    if partnership.status != P.PENDING:
        raise DomainError(_("Only a pending application can be approved."), code="invalid_transition")
    partnership.status, partnership.outlet_note, partnership.effective_at = P.ACTIVE, note[:300], timezone.now()
    partnership.save(update_fields=["status", "outlet_note", "effective_at"])
    _log(partnership, P.PENDING, P.ACTIVE, user, note)
    return partnership


@transaction.atomic
def reject_partnership(*, partnership_id: int, outlet: Outlet, user, note: str) -> Partnership:
    if not note.strip():
        raise DomainError(_("Say why the application is rejected."), code="note_required")
    partnership = _lock_for_outlet(partnership_id, outlet)
    if partnership.status != P.PENDING:
        raise DomainError(_("Only a pending application can be rejected."), code="invalid_transition")
    partnership.status, partnership.outlet_note = P.REJECTED, note[:300]
    partnership.save(update_fields=["status", "outlet_note"])
    _log(partnership, P.PENDING, P.REJECTED, user, note)
    return partnership


@transaction.atomic
def end_partnership(*, partnership_id: int, shop: Shop, user, note: str = "") -> Partnership:
    partnership = Partnership.objects.select_for_update().filter(pk=partnership_id, shop=shop).first()
    if partnership is None:
        raise NotFound(_("Partnership not found."))
    if partnership.status not in Partnership.LIVE_STATUSES:
        raise DomainError(_("The partnership has already ended."), code="invalid_transition")
    previous = partnership.status
    partnership.status, partnership.ended_at = P.ENDED, timezone.now()
    partnership.save(update_fields=["status", "ended_at"])
    _log(partnership, previous, P.ENDED, user, note)
    return partnership


def active_partnership(*, shop_id: int, outlet_id: int) -> Partnership | None:
    return Partnership.objects.filter(shop_id=shop_id, outlet_id=outlet_id, status=P.ACTIVE).first()
