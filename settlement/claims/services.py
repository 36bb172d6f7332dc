"""Claim services (理赔 / 投诉): filing, the outlet's answer, arbitration, compensation.

Every write locks the row it changes, checks the rules on the locked row, then writes the change
and its history row (ClaimLog) in the same transaction: a refusal raises DomainError and leaves
nothing behind. Rows are locked through `settlement.locks`. Statuses move only through `_transition`,
along `Claim.TRANSITIONS`:

    submitted ─ outlet accepts ─▶ accepted ─ merchant records the offline payment ─▶ compensated
        │                            └ unpaid for SETTLEMENT_CLAIM_PAYMENT_ESCALATION_DAYS ─▶ arbitration
        │                              (the outlet reminded once after ..._PAYMENT_REMINDER_DAYS)
        │ outlet disputes ─▶ disputed ─ at once ─▶ arbitration ─ operator ─▶ awarded | rejected
        └ unanswered for SETTLEMENT_CLAIM_ANSWER_DAYS ─────────▶ arbitration      │
                                awarded ─ merchant records the offline payment ─▶ compensated

An arbitration that decides "pay" records the amount owed (accepted_amount), like an outlet that
accepts: the claim is compensated only when the payment is recorded (with the decision, when the
operator has its reference, or later by the merchant).

A dispute goes to platform arbitration immediately (in the same transaction, as its own history
row): nobody has to remember to escalate it, and the outlet's reason is on record for the operator.
"""

from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from shop import permissions
from shop.errors import DomainError, NotFound
from shop.evidence import EvidenceField
from shop.models import Outlet, Shop
from shop.permissions import PermissionSet

from .. import locks
from . import rules
from .models import Claim, ClaimEvidence, ClaimLog

C = Claim.Status


def _ensure(blocker: str | None, code: str = "refused") -> None:
    if blocker:
        raise DomainError(blocker[:1].upper() + blocker[1:], code=code)


def _log(claim: Claim, from_status: str, to_status: str, *, user, note: str, at: datetime, actor: str = "") -> ClaimLog:
    """A history row, by a user or by one of the platform's rules (`actor`, ClaimLog.Actor)."""
    return ClaimLog.objects.create(
        claim=claim, from_status=from_status, to_status=to_status, user=user, actor=actor, note=note[:500], at=at
    )


def _transition(
    claim: Claim, to_status: str, *, user, note: str, at: datetime, fields: Iterable[str] = (), actor: str = ""
) -> None:
    """Move the (locked) claim to `to_status`, save it with `fields`, and write the history row."""
    from_status = claim.status
    if to_status not in Claim.TRANSITIONS[from_status]:
        raise DomainError(
            _("A claim that is %(status)s cannot become %(to)s.")
            % {"status": claim.get_status_display(), "to": C(to_status).label},
            code="invalid_transition",
        )
    claim.status = to_status
    if to_status in Claim.CLOSED_STATUSES:
        claim.closed_at = at
    claim.save(update_fields=["status", "closed_at", *fields])
    _log(claim, from_status, to_status, user=user, note=note, at=at, actor=actor)


def _checked_evidence(evidence: Iterable) -> list:
    """1 to 5 real JPEG/PNG/WebP images of at most 5 MB (the after-sales evidence validator, reused)."""
    try:
        return EvidenceField().clean(list(evidence))
    except ValidationError as error:
        raise DomainError(" ".join(error.messages), code="evidence") from None


def _text(value: str, limit: int) -> str:
    return (value or "").strip()[:limit]


# --- the merchant ------------------------------------------------------------------------------------


@transaction.atomic
def file_claim(
    *,
    service_order_id: int,
    shop: Shop,
    user,
    reason: str,
    amount: Decimal,
    evidence: Iterable,
    description: str = "",
    now: datetime | None = None,
) -> Claim:
    """File a claim on one of the shop's service orders, inside its window, with 1–5 evidence images.

    Refused (DomainError, nothing written) outside the window, on a service order that did not
    succeed or came back, when a live claim exists, for an amount above the goods' value or above
    1000.00 yuan, or without valid evidence. Another shop's service order is NotFound.
    """
    permissions.require(user, PermissionSet.SETTLEMENT)
    now = now or timezone.now()
    # Locking the service order serialises two filings on it (and a carrier result arriving meanwhile).
    service_order = locks.service_order_for_claim(service_order_id, shop=shop)
    live = Claim.objects.filter(service_order=service_order, status__in=Claim.LIVE_STATUSES).exists()
    _ensure(rules.claim_blocker(now, service_order.succeeded_at, service_order.status, live), "window")
    if reason not in Claim.Reason.values:
        raise DomainError(_("Choose a reason from the list."), code="invalid_reason")
    goods_value = service_order.after_sale.line.paid_amount
    _ensure(rules.amount_blocker(amount, goods_value), "amount")
    images = _checked_evidence(evidence)

    claim = Claim.objects.create(
        shop=shop,
        outlet_id=service_order.outlet_id,
        service_order=service_order,
        status=C.SUBMITTED,
        reason=reason,
        description=_text(description, 1000),
        goods_value=goods_value,
        amount=amount,
        filed_by=user,
        filed_at=now,
    )
    for image in images:
        ClaimEvidence.objects.create(
            claim=claim, image=image, content_type=image.content_type, size=image.size, uploaded_at=now
        )
    note = _("%(reason)s, %(amount)s yuan claimed") % {"reason": Claim.Reason(reason).label, "amount": amount}
    _log(claim, "", C.SUBMITTED, user=user, note=note, at=now)
    return claim


@transaction.atomic
def record_compensation(
    *, claim_id: int, shop: Shop, user, payment_reference: str, amount: Decimal, now: datetime | None = None
) -> Claim:
    """The merchant records the outlet's offline payment of an amount owed: accepted | awarded → compensated.

    The amount is at most what the outlet accepted or arbitration awarded; the reference is required.
    """
    permissions.require(user, PermissionSet.SETTLEMENT)
    claim = locks.claim(claim_id, shop=shop)
    if claim.status not in Claim.PAYMENT_DUE_STATUSES:
        raise DomainError(
            _("Only a claim the outlet accepted or arbitration awarded can be marked as paid."), code="not_accepted"
        )
    reference = _text(payment_reference, 100)
    if not reference:
        raise DomainError(_("Enter the payment reference."), code="reference_required")
    _ensure(rules.settle_amount_blocker(amount, claim.accepted_amount), "amount")
    claim.compensated_amount, claim.payment_reference = amount, reference
    note = _("%(amount)s yuan paid offline, reference %(ref)s") % {"amount": amount, "ref": reference}
    _transition(
        claim,
        C.COMPENSATED,
        user=user,
        note=note,
        at=now or timezone.now(),
        fields=["compensated_amount", "payment_reference"],
    )
    return claim


# --- the outlet --------------------------------------------------------------------------------------


@transaction.atomic
def outlet_accept(
    *, claim_id: int, outlet: Outlet, user, amount: Decimal, note: str = "", now: datetime | None = None
) -> Claim:
    """The outlet accepts a submitted claim for an amount up to the claimed one, to pay offline."""
    permissions.require(user, PermissionSet.OUTLET_SETTLEMENT)
    claim = locks.claim(claim_id, outlet=outlet)
    if claim.status != C.SUBMITTED:
        raise DomainError(_("This claim has already been answered."), code="answered")
    _ensure(rules.settle_amount_blocker(amount, claim.amount), "amount")
    now = now or timezone.now()
    claim.accepted_amount, claim.outlet_note, claim.answered_at = amount, _text(note, 500), now
    log_note = _("accepted %(amount)s yuan") % {"amount": amount}
    if claim.outlet_note:
        log_note = f"{log_note}: {claim.outlet_note}"
    _transition(
        claim, C.ACCEPTED, user=user, note=log_note, at=now, fields=["accepted_amount", "outlet_note", "answered_at"]
    )
    return claim


@transaction.atomic
def outlet_dispute(*, claim_id: int, outlet: Outlet, user, reason: str, now: datetime | None = None) -> Claim:
    """The outlet disputes a submitted claim with a reason: disputed, then at once platform arbitration."""
    permissions.require(user, PermissionSet.OUTLET_SETTLEMENT)
    claim = locks.claim(claim_id, outlet=outlet)
    if claim.status != C.SUBMITTED:
        raise DomainError(_("This claim has already been answered."), code="answered")
    reason = _text(reason, 500)
    if not reason:
        raise DomainError(_("Give the reason for the dispute."), code="reason_required")
    now = now or timezone.now()
    claim.outlet_note, claim.answered_at = reason, now
    _transition(claim, C.DISPUTED, user=user, note=reason, at=now, fields=["outlet_note", "answered_at"])
    _transition(claim, C.ARBITRATION, user=None, note=_("disputed by the outlet: platform arbitration"), at=now)
    return claim


# --- the platform ------------------------------------------------------------------------------------


@transaction.atomic
def escalate_claim(*, claim_id: int, now: datetime) -> Claim | None:
    """Send one submitted claim that the outlet left unanswered too long to arbitration (None: not due)."""
    try:
        claim = locks.claim(claim_id)
    except NotFound:
        return None
    # Re-checked on the locked row: the outlet may have answered meanwhile, or another sweep came first.
    if claim.status != C.SUBMITTED or not rules.is_unanswered_too_long(now, claim.filed_at):
        return None
    note = _("unanswered by the outlet for %(days)s days: platform arbitration") % {"days": rules.answer_days()}
    _transition(claim, C.ARBITRATION, user=None, note=note, at=now, actor=ClaimLog.Actor.ANSWER_TIMEOUT)
    return claim


def escalate_unanswered(*, now: datetime | None = None) -> int:
    """Every submitted claim filed SETTLEMENT_CLAIM_ANSWER_DAYS or more ago goes to arbitration.

    Each claim in its own short transaction; safe to run twice or concurrently. Returns how many moved.
    """
    now = now or timezone.now()
    cutoff = now - timedelta(days=rules.answer_days())  # filed at or before: rules.is_unanswered_too_long
    due = Claim.objects.filter(status=C.SUBMITTED, filed_at__lte=cutoff).order_by("filed_at", "pk")
    return sum(1 for claim_id in due.values_list("pk", flat=True) if escalate_claim(claim_id=claim_id, now=now))


@transaction.atomic
def chase_unpaid_claim(*, claim_id: int, now: datetime) -> str | None:
    """Remind the outlet of one accepted, unpaid claim, or send it to arbitration: whichever is due.

    Returns rules.REMIND, rules.ESCALATE or None (nothing due, or no longer accepted). Decided on the
    locked row: a payment the merchant records meanwhile, or a second run, finds nothing to do.
    """
    try:
        claim = locks.claim(claim_id)
    except NotFound:
        return None
    if claim.status != C.ACCEPTED or claim.answered_at is None:
        return None
    step = rules.payment_due(now, claim.answered_at, claim.payment_reminded_at)
    accepted = {"amount": claim.accepted_amount, "days": (now - claim.answered_at).days}
    if step == rules.REMIND:
        claim.payment_reminded_at = now
        claim.save(update_fields=["payment_reminded_at"])
        deadline = rules.format_moment(rules.payment_escalation_at(claim.answered_at))
        note = _(
            "payment reminder to the outlet: %(amount)s yuan accepted %(days)s days ago and not paid; "
            "unpaid on %(deadline)s, the claim goes to platform arbitration"
        ) % {**accepted, "deadline": deadline}
        _log(claim, C.ACCEPTED, C.ACCEPTED, user=None, note=note, at=now, actor=ClaimLog.Actor.PAYMENT_TIMEOUT)
    elif step == rules.ESCALATE:
        note = _("%(amount)s yuan accepted %(days)s days ago and not paid: platform arbitration") % accepted
        _transition(claim, C.ARBITRATION, user=None, note=note, at=now, actor=ClaimLog.Actor.PAYMENT_TIMEOUT)
    return step


def chase_unpaid(*, now: datetime) -> dict[str, int]:
    """Every accepted claim unpaid past the reminder or the escalation: each in its own short transaction.

    Safe to run twice or concurrently. Returns how many were reminded and how many escalated.
    """
    first_due = min(rules.payment_reminder_days(), rules.payment_escalation_days())
    cutoff = now - timedelta(days=first_due)  # accepted at or before: rules.payment_step
    due = Claim.objects.filter(status=C.ACCEPTED, answered_at__lte=cutoff).order_by("answered_at", "pk")
    done = {rules.REMIND: 0, rules.ESCALATE: 0}
    for claim_id in due.values_list("pk", flat=True):
        step = chase_unpaid_claim(claim_id=claim_id, now=now)
        if step:
            done[step] += 1
    return {"reminded": done[rules.REMIND], "escalated": done[rules.ESCALATE]}


@transaction.atomic
def decide_arbitration(
    *,
    claim_id: int,
    user,
    compensate: bool,
    amount: Decimal | None = None,
    note: str,
    payment_reference: str = "",
    now: datetime | None = None,
) -> Claim:
    """A platform operator decides a claim in arbitration: `amount` (≤ the claim) owed to the merchant, or rejected.

    The compensation is paid offline by the outlet. The decision records the amount owed (awarded);
    with the payment's reference the payment is recorded too (compensated), otherwise the merchant
    records it when it arrives, as for a claim the outlet accepted.
    """
    if user is None or not user.is_operator:
        raise DomainError(_("Only platform operators decide arbitration."), code="not_operator")
    claim = locks.claim(claim_id)
    if claim.status != C.ARBITRATION:
        raise DomainError(_("This claim is not in platform arbitration."), code="not_in_arbitration")
    note = _text(note, 500)
    if not note:
        raise DomainError(_("Explain the decision in a note."), code="note_required")
    if compensate:
        _ensure(rules.settle_amount_blocker(amount, claim.amount), "amount")
    now = now or timezone.now()
    claim.decision_note = note
    if not compensate:
        _transition(claim, C.REJECTED, user=user, note=note, at=now, fields=["decision_note"])
        return claim
    claim.accepted_amount = amount
    claim.payment_reference = _text(payment_reference, 100)
    log_note = _("compensation of %(amount)s yuan: %(note)s") % {"amount": amount, "note": note}
    fields = ["accepted_amount", "decision_note", "payment_reference"]
    if claim.payment_reference:
        claim.compensated_amount = amount
        _transition(claim, C.COMPENSATED, user=user, note=log_note, at=now, fields=[*fields, "compensated_amount"])
    else:
        _transition(claim, C.AWARDED, user=user, note=log_note, at=now, fields=fields)
    return claim
