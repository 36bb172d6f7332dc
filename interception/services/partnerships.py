"""Partnerships for offline settlement: apply, approve, reject, end. Every step in the history.

Statuses move only through `_transition`, along Partnership.TRANSITIONS.
"""

from collections.abc import Iterable
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from shop import permissions
from shop.errors import DomainError
from shop.models import Courier, Outlet, Shop
from shop.permissions import PermissionSet

from .. import locks
from ..models import Partnership, PartnershipLog
from ..rules import outlet_blocker

P = Partnership.Status


def _log(partnership, from_status, to_status, user, note=""):
    PartnershipLog.objects.create(
        partnership=partnership, from_status=from_status, to_status=to_status, user=user, note=note[:300]
    )


def _transition(
    partnership: Partnership, to_status: str, *, user, note: str = "", refusal: str, fields: Iterable[str] = ()
) -> None:
    """Move a locked partnership along the table, saving `fields` with its status, and log it.

    `refusal`: the message of the DomainError raised when the table does not allow the move.
    `user`: who moved it (None: the platform, e.g. effective at once).
    """
    from_status = partnership.status
    if to_status not in Partnership.TRANSITIONS[from_status]:
        raise DomainError(refusal, code="invalid_transition")
    partnership.status = to_status
    partnership.save(update_fields=["status", *fields])
    _log(partnership, from_status, to_status, user, note)


@transaction.atomic
def apply_for_partnerships(*, shop: Shop, user, courier_code: str, outlet_ids: list[int], fee: Decimal):
    """Open offline settlement with one or more outlets of a courier at a proposed fee per parcel.

    Couriers that need no outlet approval (YTO) make the partnership effective at once.
    """
    permissions.require(user, PermissionSet.INTERCEPTION)
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
        # The history starts pending ("" → pending); a courier without approval moves on at once. The row
        # is inserted in its final state (one INSERT under the one-live-partnership constraint).
        _log(partnership, "", P.PENDING, user, _("Applied at %(fee)s yuan per parcel") % {"fee": f"{fee:.2f}"})
        if status == P.ACTIVE:
            _log(partnership, P.PENDING, P.ACTIVE, None, _("Effective at once: no outlet approval needed"))
        created.append(partnership)
    return created


@transaction.atomic
def approve_partnership(*, partnership_id: int, outlet: Outlet, user, note: str = "") -> Partnership:
    permissions.require(user, PermissionSet.OUTLET_PARTNERSHIPS)
    partnership = locks.partnership_for_outlet(partnership_id, outlet=outlet)
    partnership.outlet_note, partnership.effective_at = note[:300], timezone.now()
    _transition(
        partnership,
        P.ACTIVE,
        user=user,
        note=note,
        refusal=_("Only a pending application can be approved."),
        fields=["outlet_note", "effective_at"],
    )
    return partnership


@transaction.atomic
def reject_partnership(*, partnership_id: int, outlet: Outlet, user, note: str) -> Partnership:
    permissions.require(user, PermissionSet.OUTLET_PARTNERSHIPS)
    if not note.strip():
        raise DomainError(_("Say why the application is rejected."), code="note_required")
    partnership = locks.partnership_for_outlet(partnership_id, outlet=outlet)
    partnership.outlet_note = note[:300]
    _transition(
        partnership,
        P.REJECTED,
        user=user,
        note=note,
        refusal=_("Only a pending application can be rejected."),
        fields=["outlet_note"],
    )
    return partnership


@transaction.atomic
def end_partnership(*, partnership_id: int, shop: Shop, user, note: str = "") -> Partnership:
    permissions.require(user, PermissionSet.INTERCEPTION)
    partnership = locks.partnership_for_shop(partnership_id, shop=shop)
    partnership.ended_at = timezone.now()
    _transition(
        partnership,
        P.ENDED,
        user=user,
        note=note,
        refusal=_("The partnership has already ended."),
        fields=["ended_at"],
    )
    return partnership
