"""The platform acting on overdue after-sales a chunk at a time: what the every-minute sweep runs.

`time_out_after_sale` acts on one after-sale; `time_out_after_sales` does the same for a chunk, in one
transaction and a fixed number of queries whatever the chunk's size: lock the chunk's orders, lines
and after-sales (skipping rows another transaction holds), re-check each after-sale under its locks
and decide with the single path's helpers (`_due_action`, `base.refund_plan`, `base.check_transition`),
then write the refunds (one ledger call, `base.ledger_refund` and its one idempotency key), the status
changes (`base.apply_status`, one UPDATE per new status), the history rows (`base.log_row`, one bulk
insert) and the buyer notifications (one delivery task after commit). Tests hold the two paths to the
same result.

If the bulk write fails (something the checks did not foresee breaks a constraint), it is rolled back
to its savepoint and the chunk's after-sales go through the single service one by one, each in its own
savepoint: one broken after-sale never stops the others.
"""

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from shop.errors import DomainError, NotFound

from .. import ledger, locks, notifications, rules
from ..models import Actor, AfterSale, AfterSaleLog
from . import base

logger = logging.getLogger(__name__)
S = AfterSale.Status


@dataclass
class ChunkResult:
    handled: list[int] = field(default_factory=list)  # the platform acted on these
    contended: list[int] = field(default_factory=list)  # another transaction held a row: not looked at
    failed: list[int] = field(default_factory=list)  # an error, logged; nothing of theirs was written


@dataclass(frozen=True)
class _Decision:
    after_sale: AfterSale
    to_status: str
    deadline: datetime | None  # the next deadline (open statuses only)
    message: str  # of the status change
    refund: Decimal | None  # what the ledger pays back, if anything
    notify: tuple[str, dict] | None  # (kind, extra) of the buyer's notification


def _timeout_reason() -> str:
    return _("The merchant's deadline passed: the platform acted")


def _due_action(after_sale: AfterSale, now: datetime) -> rules.TimeoutAction | None:
    """The platform's action on this locked after-sale if its deadline has passed, else None."""
    # Due once the deadline has passed: at the deadline itself the merchant may still act.
    if not after_sale.is_open or after_sale.deadline is None or after_sale.deadline >= now:
        return None
    return rules.timeout_action(after_sale.status, after_sale.type)


def _next_deadline(action: rules.TimeoutAction, now: datetime) -> datetime | None:
    return now + action.deadline if action.deadline else None


@transaction.atomic
def time_out_after_sale(*, after_sale_id: int, now: datetime | None = None) -> AfterSale | None:
    """Take the platform's action on one overdue after-sale. Re-checks under the lock: safe twice."""
    now = now or timezone.now()
    try:
        after_sale = locks.lock_after_sale(after_sale_id)
    except NotFound:
        return None
    action = _due_action(after_sale, now)
    if action is None:
        return None
    reason = _timeout_reason()
    if action.refund:
        base.refund(after_sale, actor=Actor.TIMEOUT, at=now, reason=reason)
    else:
        deadline = _next_deadline(action, now)
        base.transition(after_sale, action.to_status, actor=Actor.TIMEOUT, at=now, deadline=deadline, message=reason)
        if action.to_status == S.AWAITING_BUYER_RETURN:
            notifications.notify_buyer(after_sale, "return_agreed", at=now)
    return after_sale


def _decide(after_sale: AfterSale, now: datetime, order_left: dict[int, Decimal]) -> _Decision | None:
    """What time_out_after_sale (and its base.refund) would do to this locked after-sale; None:
    nothing. Raises DomainError where it would refuse. `order_left`: what is still refundable on each
    order, less this chunk's refunds so far (updated here).
    """
    action = _due_action(after_sale, now)
    if action is None:
        return None
    reason = _timeout_reason()
    if not action.refund:
        notify = ("return_agreed", {}) if action.to_status == S.AWAITING_BUYER_RETURN else None
        decision = _Decision(after_sale, action.to_status, _next_deadline(action, now), reason, None, notify)
    else:
        to_status, due = base.refund_plan(after_sale)
        if to_status == S.CLOSED:
            decision = _Decision(after_sale, S.CLOSED, None, _("Nothing is left to refund on the line"), None, None)
        else:
            if due > 0 and due > order_left[after_sale.order_id]:
                raise DomainError(
                    _("Refusing to refund %(amount)s yuan: refunds would exceed what the buyer paid.")
                    % {"amount": f"{due:.2f}"},
                    code="amount_exceeds_refundable",
                )
            notify = ("refunded", {"amount": due})
            decision = _Decision(after_sale, S.REFUNDED, None, reason, due if due > 0 else None, notify)
    base.check_transition(after_sale, decision.to_status)
    if decision.refund:
        order_left[after_sale.order_id] -= decision.refund
    return decision


def _write(decisions: list[_Decision], now: datetime) -> None:
    """Everything the decisions say, in a fixed number of queries (at most: ledger 7, status 3, inserts 3)."""
    if not decisions:
        return
    refunds = [d for d in decisions if d.refund]
    ledger.record_refunds(
        [base.ledger_refund(d.after_sale, d.refund, actor=Actor.TIMEOUT, reason=d.message, at=now) for d in refunds]
    )
    logs, groups = [], defaultdict(list)
    for d in decisions:
        after_sale = d.after_sale
        if d.refund:  # as base.refund writes it: the refund's row, then the status change's
            message = base.refund_log_message(d.refund)
            logs.append(
                base.log_row(after_sale, AfterSaleLog.Action.REFUND, actor=Actor.TIMEOUT, message=message, at=now)
            )
        logs.append(
            base.log_row(
                after_sale,
                AfterSaleLog.Action.STATUS,
                actor=Actor.TIMEOUT,
                message=d.message,
                at=now,
                from_status=after_sale.status,
                to_status=d.to_status,
            )
        )
        groups[(d.to_status, d.deadline)].append(after_sale.pk)
    for (to_status, deadline), ids in groups.items():
        AfterSale.objects.filter(pk__in=ids).update(
            status=to_status,
            last_actor=Actor.TIMEOUT,
            deadline=deadline,
            closed_at=None if to_status in AfterSale.OPEN_STATUSES else now,
            version=F("version") + 1,
            updated_at=timezone.now(),
        )
    AfterSaleLog.objects.bulk_create(logs)
    notifications.notify_buyers([(d.after_sale, *d.notify) for d in decisions if d.notify], at=now)
    for d in decisions:  # the objects as written, for the caller
        base.apply_status(d.after_sale, d.to_status, actor=Actor.TIMEOUT, at=now, deadline=d.deadline)
        d.after_sale.version += 1


def time_out_after_sales(*, after_sale_ids: list[int], now: datetime | None = None) -> ChunkResult:
    """The platform's action on a chunk of overdue after-sales, in one transaction. Re-checks each under
    its locks, so safe to run twice and concurrently; rows another transaction holds are returned as
    contended, untouched.
    """
    now = now or timezone.now()
    result = ChunkResult()
    with transaction.atomic():
        # SKIP LOCKED: never waiting means never deadlocking with a writer that locks several
        # after-sales in another order; the sweep takes the skipped ones afterwards, one by one.
        locked = locks.lock_after_sales(after_sale_ids, skip_locked=True)
        unlocked = [pk for pk in after_sale_ids if pk not in locked]
        if unlocked:  # held by another transaction, or gone: only the former are contended
            existing = set(AfterSale.objects.filter(pk__in=unlocked).values_list("pk", flat=True))
            result.contended = [pk for pk in unlocked if pk in existing]
        decisions: list[_Decision] = []
        order_left = {a.order_id: a.order.refundable_amount for a in locked.values()}
        for after_sale in locked.values():
            try:
                decision = _decide(after_sale, now, order_left)
            except Exception:  # refused or broken: logged, the others go on
                logger.exception("timeout of after-sale %s failed", after_sale.pk)
                result.failed.append(after_sale.pk)
                continue
            if decision is not None:
                decisions.append(decision)
        try:
            with transaction.atomic():
                _write(decisions, now)
        except Exception:
            logger.exception("timeout of %s after-sales at once failed: one by one instead", len(decisions))
            for decision in decisions:
                after_sale_id = decision.after_sale.pk
                try:  # its own savepoint: the service is atomic
                    if time_out_after_sale(after_sale_id=after_sale_id, now=now) is not None:
                        result.handled.append(after_sale_id)
                except Exception:
                    logger.exception("timeout of after-sale %s failed", after_sale_id)
                    result.failed.append(after_sale_id)
        else:
            result.handled = [decision.after_sale.pk for decision in decisions]
    return result
