"""What every after-sale write shares: the history row, the versioned save, the one status transition
and the one refund. The single services and the timeout sweep's bulk path both go through these.

Lock, then check, then write; locks are taken in `aftersales.locks.LOCK_ORDER`.
"""

from datetime import datetime
from decimal import Decimal

from django.utils import timezone
from django.utils.translation import gettext as _

from shop.errors import DomainError

from .. import ledger, notifications, rules
from ..models import AfterSale, AfterSaleLog

S = AfterSale.Status


def refund_idempotency_key(after_sale: AfterSale) -> str:
    """The ledger key of an after-sale's refund: one refund per after-sale, however often it is asked."""
    return f"after-sale:{after_sale.pk}:refund"


def check_version(after_sale: AfterSale, expected_version: int | None) -> None:
    if expected_version is not None and after_sale.version != expected_version:
        raise DomainError(
            _("After-sale %(no)s changed since you opened the page; nothing was done. Reload and try again.")
            % {"no": after_sale.after_sale_no},
            code="stale",
        )


def log_row(after_sale, action, *, actor, user=None, message="", at=None, from_status="", to_status="") -> AfterSaleLog:
    """A history row, not saved yet (the bulk path inserts many at once)."""
    return AfterSaleLog(
        after_sale=after_sale,
        action=action,
        actor=actor,
        user=user,
        message=str(message)[:500],
        at=at or timezone.now(),
        from_status=from_status,
        to_status=to_status,
    )


def log(after_sale, action, *, actor, user=None, message="", at=None, from_status="", to_status="") -> None:
    log_row(
        after_sale,
        action,
        actor=actor,
        user=user,
        message=message,
        at=at,
        from_status=from_status,
        to_status=to_status,
    ).save(force_insert=True)


def save(after_sale: AfterSale, *fields: str) -> None:
    after_sale.version += 1
    after_sale.save(update_fields=[*fields, "version", "updated_at"])


def check_transition(after_sale: AfterSale, to_status: str) -> None:
    """Refuse a move that AfterSale.TRANSITIONS does not allow."""
    if to_status not in AfterSale.TRANSITIONS[after_sale.status]:
        raise DomainError(
            _("An after-sale that is “%(current)s” cannot become “%(new)s”.")
            % {"current": after_sale.get_status_display(), "new": S(to_status).label},
            code="invalid_transition",
        )


def apply_status(after_sale: AfterSale, to_status: str, *, actor: str, at: datetime, deadline=None) -> None:
    """The fields a status change sets, on the object only: the deadline runs in open statuses only,
    and a closed after-sale has its closing time."""
    after_sale.status = to_status
    after_sale.last_actor = actor
    after_sale.deadline = deadline if to_status in AfterSale.OPEN_STATUSES else None
    after_sale.closed_at = None if to_status in AfterSale.OPEN_STATUSES else at


def transition(after_sale, to_status, *, actor, user=None, message="", at=None, deadline=None) -> None:
    """Move to `to_status` if the table allows it; write the history row; set or clear the deadline."""
    check_transition(after_sale, to_status)
    current = after_sale.status
    at = at or timezone.now()
    apply_status(after_sale, to_status, actor=actor, at=at, deadline=deadline)
    save(after_sale, "status", "last_actor", "deadline", "closed_at")
    log(
        after_sale,
        AfterSaleLog.Action.STATUS,
        actor=actor,
        user=user,
        message=message,
        at=at,
        from_status=current,
        to_status=to_status,
    )


def set_deadline(after_sale: AfterSale, deadline: datetime, *, actor, message, at) -> bool:
    if after_sale.deadline == deadline:
        return False
    after_sale.deadline = deadline
    save(after_sale, "deadline")
    log(after_sale, AfterSaleLog.Action.DEADLINE, actor=actor, message=message, at=at)
    return True


def refund_plan(after_sale: AfterSale, amount: Decimal | None = None) -> tuple[str, Decimal]:
    """(the status a refund ends in, what the ledger pays): all of what is still due, capped by the line.

    When nothing is left to refund on the line (small payments used it up) and nothing was refunded
    yet, it closes instead: the buyer is never told "refunded" for 0.00.
    """
    due = min(amount or after_sale.amount - after_sale.refunded_amount, after_sale.line.refundable_amount)
    if due <= 0 and after_sale.refunded_amount == 0:
        return S.CLOSED, due
    return S.REFUNDED, due


def ledger_refund(after_sale: AfterSale, amount: Decimal, *, actor, user=None, reason="", at=None) -> ledger.Refund:
    """The ledger's refund of an after-sale: its kind, its one idempotency key."""
    return ledger.Refund(
        line=after_sale.line,
        after_sale=after_sale,
        kind=rules.refund_kind(after_sale.type),
        amount=amount,
        actor=actor,
        user=user,
        reason=reason,
        idempotency_key=refund_idempotency_key(after_sale),
        at=at,
    )


def refund_log_message(amount: Decimal) -> str:
    return _("%(amount)s yuan refunded") % {"amount": f"{amount:.2f}"}


def refund(after_sale: AfterSale, *, actor, user=None, at=None, reason="", amount: Decimal | None = None) -> None:
    """Refund the after-sale (see refund_plan) and close it as refunded, or close it when nothing is due."""
    at = at or timezone.now()
    to_status, due = refund_plan(after_sale, amount)
    if to_status == S.CLOSED:
        transition(
            after_sale, S.CLOSED, actor=actor, user=user, at=at, message=_("Nothing is left to refund on the line")
        )
        return
    if due > 0:
        entry = ledger_refund(after_sale, due, actor=actor, user=user, reason=reason, at=at)
        ledger.record_refund(
            line=entry.line,
            after_sale=entry.after_sale,
            kind=entry.kind,
            amount=entry.amount,
            actor=entry.actor,
            user=entry.user,
            reason=entry.reason,
            idempotency_key=entry.idempotency_key,
            at=entry.at,
        )
        log(after_sale, AfterSaleLog.Action.REFUND, actor=actor, user=user, at=at, message=refund_log_message(due))
    transition(after_sale, S.REFUNDED, actor=actor, user=user, message=reason, at=at)
    notifications.notify_buyer(after_sale, "refunded", at=at, amount=due)
