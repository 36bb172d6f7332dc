"""The stuck-orders sweep: service orders "submitted" or "processing" for longer than their courier's result
timeout (rules.result_timeouts) are asked about, or sent again.

- never sent (no carrier ref): the carrier task is queued again; the carrier dedupes by our request id;
- sent (a carrier ref): the carrier is asked for the status, and its answer is applied through the same
  results service as a callback (apply_result), so a late callback afterwards changes nothing;
- the carrier does not know the request id ("unknown"): it never received it, and it is sent again.

Lock, check, write: a run claims its service orders in one short transaction (SKIP LOCKED, then their
`carrier_checked_at` moves to `now`), so two runs at once, or one after the other, never ask about the
same service order twice; the carrier is called after that commit, with no row lock held. A courier
whose calls are paused (an open carrier alert, services.alerts) gets one status query a run: answered,
the alert closes and its waiting orders go on; refused again, they keep waiting.
"""

import logging
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.utils import timezone
from django_q.tasks import async_task

from shop.errors import DomainError

from .. import gateway, rules
from ..gateway import CarrierConfigurationError, CarrierError, StatusResult
from ..models import ServiceOrder, ServiceOrderLog
from . import alerts
from .carrier import parcel_facts
from .launch import LAUNCH_CHUNK_SIZE
from .results import CARRIER_RESULTS, apply_result

logger = logging.getLogger(__name__)

SO = ServiceOrder.Status
SWEEP_LIMIT = 500  # service orders claimed a run; the rest wait for the next (every SWEEP_EVERY)
SWEEP_EVERY = timedelta(minutes=5)  # the django-q2 schedule's interval (tasks.ensure_sweep_schedule)
# A service order waiting behind a carrier alert is looked at again at each run, at most this often.
WAITING_RECHECK = timedelta(minutes=2)


@dataclass(frozen=True)
class _Claimed:
    pk: int
    courier_id: int
    carrier_ref: str
    waiting: bool
    facts: gateway.ParcelFacts


def due_service_orders(*, now: datetime):
    """Pending service orders whose courier's result timeout has passed since the carrier was last asked
    (or, never asked, since they were launched), and those waiting behind an alert for WAITING_RECHECK."""
    per_courier, default = rules.result_timeouts()
    last = Coalesce("carrier_checked_at", "created_at")
    overdue = Q(_last__lt=now - default) & ~Q(courier__code__in=list(per_courier))
    for code, timeout in per_courier.items():
        overdue |= Q(courier__code=code, _last__lt=now - timeout)
    waiting = ~Q(waiting_reason="") & Q(_last__lt=now - WAITING_RECHECK)
    return (
        ServiceOrder.objects.filter(status__in=ServiceOrder.PENDING_STATUSES)
        .alias(_last=last)
        .filter(overdue | waiting)
    )


def sweep_stuck_service_orders(*, now: datetime) -> dict[str, int]:
    """One run of the sweep at `now`. Returns the count of each outcome (django-q2 keeps it as the result)."""
    outcomes: Counter[str] = Counter()
    claimed = _claim(now)
    by_courier: dict[int, list[_Claimed]] = defaultdict(list)
    for item in claimed:
        by_courier[item.courier_id].append(item)
    paused = alerts.paused_courier_ids()
    carrier = gateway.get_gateway()
    relaunch: list[int] = []
    for courier_id, claimed_of_courier in by_courier.items():
        items = claimed_of_courier
        if courier_id in paused:
            if not _probe(carrier, courier_id, items[0], now, outcomes, relaunch):
                _wait(items[1:], 0)
                outcomes["paused"] += len(items) - 1
                continue
            items = items[1:]
        for index, item in enumerate(items):
            if not item.carrier_ref:
                relaunch.append(item.pk)
                continue
            try:
                answer = carrier.status(item.facts, item.carrier_ref)
            except CarrierConfigurationError as exc:
                alerts.open_carrier_alert(courier_id=courier_id, error=exc, at=timezone.now())
                _wait(items[index:], exc.http_status)
                outcomes["paused"] += len(items) - index
                break
            except CarrierError as exc:  # unreachable: the next run asks again; no more calls to it now
                logger.warning("status query for %s failed: %s", item.facts.service_order_id, exc)
                outcomes["unreachable"] += len(items) - index
                break
            outcomes[_apply(item, answer, relaunch)] += 1
    outcomes["relaunched"] += _relaunch(relaunch)
    return dict(outcomes)


def _claim(now: datetime) -> list[_Claimed]:
    """Lock the due service orders another run does not hold, re-check them locked, mark them asked."""
    with transaction.atomic():
        rows = list(
            due_service_orders(now=now)
            .select_for_update(skip_locked=True, of=("self",))
            .select_related("parcel__courier")
            .order_by("pk")[:SWEEP_LIMIT]
        )
        if not rows:
            return []
        ServiceOrder.objects.filter(pk__in=[so.pk for so in rows]).update(carrier_checked_at=now)
    return [
        _Claimed(so.pk, so.courier_id, so.carrier_ref, bool(so.waiting_reason), parcel_facts(so.parcel, so.pk))
        for so in rows
    ]


def _probe(carrier, courier_id: int, item: _Claimed, now: datetime, outcomes: Counter, relaunch: list[int]) -> bool:
    """One status query for a paused courier. True when answered: the alert is closed and the run goes on."""
    try:
        answer = carrier.status(item.facts, item.carrier_ref)
    except CarrierConfigurationError as exc:
        alerts.open_carrier_alert(courier_id=courier_id, error=exc, at=timezone.now())
        outcomes["paused"] += 1
        return False
    except CarrierError:
        outcomes["paused"] += 1
        return False
    alerts.close_alerts_of(courier_id=courier_id, at=now)
    outcomes[_apply(item, answer, relaunch)] += 1
    return True


def _apply(item: _Claimed, answer: StatusResult, relaunch: list[int]) -> str:
    if answer.status == "unknown":
        # The carrier never received it (or forgot): forget its reference and send it again.
        ServiceOrder.objects.filter(pk=item.pk, status__in=ServiceOrder.PENDING_STATUSES).update(carrier_ref="")
        relaunch.append(item.pk)
        return "unknown to the carrier"
    if answer.status == "processing":
        if item.waiting:
            ServiceOrder.objects.filter(pk=item.pk).update(waiting_reason="")
        return "still processing"
    status, return_failure = CARRIER_RESULTS[answer.status]
    try:
        applied = apply_result(
            service_order_id=item.pk,
            status=status,
            reason=answer.reason,
            occurred_at=answer.occurred_at or timezone.now(),
            carrier_ref=answer.carrier_ref,
            return_failure=return_failure,
            actor=ServiceOrderLog.Actor.CARRIER,
        )
    except DomainError as exc:
        logger.warning("status of %s not applied: %s", item.pk, exc.message)
        return "refused"
    return "applied" if applied else "unchanged"


def _wait(items: list[_Claimed], http_status: int) -> None:
    """Keep them waiting with the reason (0: not called, the courier is paused)."""
    ServiceOrder.objects.filter(pk__in=[i.pk for i in items], status__in=ServiceOrder.PENDING_STATUSES).update(
        waiting_reason=alerts.waiting_reason(http_status)[:200]
    )


def _relaunch(service_order_ids: list[int]) -> int:
    """Queue the carrier task again for these (it re-checks each locked and sends only pending ones)."""
    ids = sorted(service_order_ids)
    for i in range(0, len(ids), LAUNCH_CHUNK_SIZE):
        async_task("interception.tasks.run_service_orders", ids[i : i + LAUNCH_CHUNK_SIZE])
    return len(ids)
