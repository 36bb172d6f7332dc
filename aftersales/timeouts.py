"""The platform acting on overdue after-sales a chunk at a time: what the every-minute sweep runs.

`time_out_after_sales` does for a chunk what `services.time_out_after_sale` does for one after-sale,
in one transaction and a fixed number of queries whatever the chunk's size: lock the chunk's orders,
lines and after-sales (skipping rows another transaction holds), re-check each after-sale under its
locks and decide as the single service would, then write the refunds (one ledger call), the status
changes (one UPDATE per new status), the history rows and the buyer notifications (bulk inserts, one
delivery task after commit). Tests hold the two paths to the same result.

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

from shop import changes
from shop.errors import DomainError

from . import ledger, notifications, rules, services
from .models import Actor, AfterSale, AfterSaleLog

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


def _decide(after_sale: AfterSale, now: datetime, order_left: dict[int, Decimal]) -> _Decision | None:
    """What services.time_out_after_sale (and its _refund) would do to this locked after-sale; None:
    nothing. Raises DomainError where it would refuse. `order_left`: what is still refundable on each
    order, less this chunk's refunds so far (updated here).
    """
    if not after_sale.is_open or after_sale.deadline is None or after_sale.deadline >= now:
        return None
    action = rules.timeout_action(after_sale.status, after_sale.type)
    if action is None:
        return None
    reason = _("The merchant's deadline passed: the platform acted")
    if not action.refund:
        deadline = now + action.deadline if action.deadline else None
        notify = ("return_agreed", {}) if action.to_status == S.AWAITING_BUYER_RETURN else None
        decision = _Decision(after_sale, action.to_status, deadline, reason, None, notify)
    else:
        due = min(after_sale.amount - after_sale.refunded_amount, after_sale.line.refundable_amount)
        if due <= 0 and after_sale.refunded_amount == 0:
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
    if decision.to_status not in services.TRANSITIONS[after_sale.status]:
        raise DomainError(_("Invalid status change for a timeout."), code="invalid_transition")
    if decision.refund:
        order_left[after_sale.order_id] -= decision.refund
    return decision


def _log(after_sale: AfterSale, action: str, message: str, at: datetime, **statuses) -> AfterSaleLog:
    return AfterSaleLog(
        after_sale=after_sale, action=action, actor=Actor.TIMEOUT, message=str(message)[:500], at=at, **statuses
    )


def _write(decisions: list[_Decision], now: datetime) -> None:
    """Everything the decisions say, in a fixed number of queries (at most: ledger 7, status 3, inserts 3)."""
    if not decisions:
        return
    refunds = [d for d in decisions if d.refund]
    ledger.record_refunds(
        [
            ledger.Refund(
                line=d.after_sale.line,
                after_sale=d.after_sale,
                kind=rules.refund_kind(d.after_sale.type),
                amount=d.refund,
                actor=Actor.TIMEOUT,
                reason=d.message,
                idempotency_key=f"after-sale:{d.after_sale.pk}:refund",
            )
            for d in refunds
        ]
    )
    logs, groups = [], defaultdict(list)
    for d in decisions:
        after_sale = d.after_sale
        if d.refund:  # as _refund writes it: the refund's row, then the status change's
            message = _("%(amount)s yuan refunded") % {"amount": f"{d.refund:.2f}"}
            logs.append(_log(after_sale, AfterSaleLog.Action.REFUND, message, now))
        logs.append(
            _log(
                after_sale,
                AfterSaleLog.Action.STATUS,
                d.message,
                now,
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
    changes.record_changes((d.after_sale.shop_id, changes.AFTER_SALE_UPDATED, d.after_sale.pk) for d in decisions)
    notifications.notify_buyers([(d.after_sale, *d.notify) for d in decisions if d.notify], at=now)
    for d in decisions:  # the objects as written, for the caller
        after_sale = d.after_sale
        after_sale.status, after_sale.last_actor, after_sale.deadline = d.to_status, Actor.TIMEOUT, d.deadline
        after_sale.closed_at = None if d.to_status in AfterSale.OPEN_STATUSES else now
        after_sale.version += 1


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
        locked = services.lock_after_sales(after_sale_ids, skip_locked=True)
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
                    if services.time_out_after_sale(after_sale_id=after_sale_id, now=now) is not None:
                        result.handled.append(after_sale_id)
                except Exception:
                    logger.exception("timeout of after-sale %s failed", after_sale_id)
                    result.failed.append(after_sale_id)
        else:
            result.handled = [decision.after_sale.pk for decision in decisions]
    return result
