"""The carrier stage: a task calls the carrier for a chunk of service orders and records each answer.

The carrier is called outside any transaction and while no row lock is held; each answer is applied
in a short transaction of its own (results.apply_result).
"""

import contextvars
import logging
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from datetime import timedelta
from queue import Queue
from threading import Thread

from django.conf import settings
from django.db import connection, connections, transaction
from django.db.models import F
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django_q.models import Schedule
from django_q.tasks import schedule

from aftersales.notifications import delivery_in_one_task
from shop.models import Parcel

from .. import gateway, locks
from ..gateway import CarrierConfigurationError, CarrierError, LaunchResult, ParcelFacts
from ..models import ServiceOrder, ServiceOrderLog
from . import alerts
from .results import apply_result
from .transitions import transition_many

logger = logging.getLogger(__name__)

SO = ServiceOrder.Status

# A chunk's calls that the carrier did not answer (CarrierError) run again later, as their own task, after
# these delays (the django-q2 scheduler looks about every 30 s). Not a raise for django-q2 to retry:
# with ack_failures it acknowledges a failed task and never runs it again, and a raise would also
# report the chunk's other parcels as failed. After the last delay they stay "processing" (logged).
CARRIER_RETRY_DELAYS = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=15), timedelta(hours=1))


def parcel_facts(parcel: Parcel, service_order_id: int | None = None) -> ParcelFacts:
    """What the carrier adapters see of a parcel: plain facts, no model."""
    return ParcelFacts(
        service_order_id=service_order_id,
        courier=parcel.courier.code,
        tracking_no=parcel.tracking_no,
        status=parcel.status,
    )


def run_service_orders(service_order_ids: list[int]) -> dict[str, int]:
    """The task: call the carrier for a chunk of service orders, then apply each result.

    At least once: running it twice never acts twice (a service order past "processing" is left
    alone; the carrier takes the service-order id as its idempotency key). Returns the count of
    each outcome, which django-q2 keeps as the task's result.
    """
    return dict(Counter(_run(service_order_ids).values()))


def run_service_order(service_order_id: int) -> str:
    """The one-service-order task of before the chunks (tasks may still be queued): same semantics."""
    return _run([service_order_id]).get(service_order_id, "nothing to do")


class CarrierPaused(Exception):
    """Not called: the courier's calls are paused (an open carrier alert)."""


def _run(service_order_ids: list[int]) -> dict[int, str]:
    outcomes: dict[int, str] = {}
    to_launch = _mark_processing(service_order_ids, outcomes)
    if not to_launch:
        return outcomes
    language = translation.get_language()
    retry, errors = [], []
    held: dict[int, list[int]] = {}  # HTTP status → service orders kept waiting behind an alert
    # Couriers whose carrier refused our configuration in this chunk: the pool's later calls to them are not made.
    paused: set[str] = set()
    # The carrier calls run in a pool (they mostly wait on the network); each answer is handed, as it
    # arrives, to the appliers (a few threads with a database connection each). The refunds' buyer
    # notifications of the whole chunk go out in one task once it is done.
    workers = max(1, min(settings.CARRIER_CONCURRENCY, len(to_launch)))
    appliers = min(settings.CARRIER_RESULT_APPLIERS, len(to_launch))
    with (
        delivery_in_one_task(),
        _Appliers(appliers) as apply,
        ThreadPoolExecutor(max_workers=workers, thread_name_prefix="carrier") as pool,
    ):
        calls = {pool.submit(_launch, parcel_facts(so.parcel, so.pk), language, paused): so for so in to_launch}
        applying: dict[Future, ServiceOrder] = {}
        for call in as_completed(calls):
            service_order = calls[call]
            try:
                result = call.result()
            except CarrierConfigurationError as exc:  # our key or URL: wait, alert, pause the courier
                logger.error("carrier refused our configuration for %s: %s", service_order.number, exc)
                paused.add(service_order.parcel.courier.code)
                alerts.open_carrier_alert(courier_id=service_order.courier_id, error=exc, at=timezone.now())
                held.setdefault(exc.http_status, []).append(service_order.pk)
                outcomes[service_order.pk] = "paused"
            except CarrierPaused:
                held.setdefault(0, []).append(service_order.pk)
                outcomes[service_order.pk] = "paused"
            except CarrierError as exc:  # the carrier did not answer this one: the others go on
                logger.warning("carrier call for %s failed: %s", service_order.number, exc)
                outcomes[service_order.pk] = "retry"
                retry.append(service_order)
            else:
                applying[apply.submit(_record, service_order.pk, result)] = service_order
        for applied in as_completed(applying):
            service_order = applying[applied]
            try:
                outcomes[service_order.pk] = applied.result()
            except Exception as exc:  # a bug or the database: keep going, fail the task at the end
                logger.error("service order %s: result not applied", service_order.number, exc_info=exc)
                outcomes[service_order.pk] = "error"
                retry.append(service_order)
                errors.append(exc)
    _hold(held)
    _retry_later(retry)
    if errors:
        raise errors[0]  # shown as a failed task; the others' results are applied, these retried
    return outcomes


class _Appliers:
    """`count` threads applying carrier answers, each in a database connection of its own (closed when
    it stops): a result is some thirty short statements, mostly waiting on the database, so a few at
    once get a chunk through about that many times faster than one after the other. Each runs in a
    copy of the task's context (the language, delivery_in_one_task). With `count` 0, or inside a
    transaction (whose rows other connections cannot see: tests, a caller's atomic block), `submit`
    applies in the calling thread.

    Two results never wait on each other for long: each is one service order of its own parcel, locked
    in LOCK_ORDER (order first), so two on the same order queue, and none deadlocks.
    """

    def __init__(self, count: int):
        self.count = 0 if connection.in_atomic_block else count
        self.queue: Queue = Queue()
        self.threads = [Thread(target=self._work, name=f"apply-{i}", daemon=True) for i in range(self.count)]
        for thread in self.threads:
            thread.start()

    def submit(self, function, *args) -> Future:
        future: Future = Future()
        if not self.count:
            _settle(future, function, *args)
        else:
            self.queue.put((future, contextvars.copy_context(), function, args))
        return future

    def _work(self) -> None:
        try:
            while (item := self.queue.get()) is not None:
                future, context, function, args = item
                context.run(_settle, future, function, *args)
        finally:
            connections.close_all()  # this thread's own connections

    def __enter__(self) -> "_Appliers":
        return self

    def __exit__(self, *exc) -> None:
        for _thread in self.threads:
            self.queue.put(None)
        for thread in self.threads:
            thread.join()


def _settle(future: Future, function, *args) -> None:
    try:
        future.set_result(function(*args))
    except Exception as exc:  # handed to the task's thread, which decides (retry, fail the task)
        future.set_exception(exc)


def _mark_processing(service_order_ids: list[int], outcomes: dict[int, str]) -> list[ServiceOrder]:
    """Move the chunk's pending service orders to "processing" and count the carrier call, in one short
    transaction. Returns those to send to the carrier: not those already accepted (a carrier_ref),
    whose result comes by callback."""
    outcomes.update(dict.fromkeys(service_order_ids, "nothing to do"))
    paused = alerts.paused_courier_ids()
    with transaction.atomic():
        to_launch, held = [], []
        for service_order in locks.pending_service_orders(service_order_ids):
            if service_order.status == SO.PROCESSING and service_order.carrier_ref:
                outcomes[service_order.pk] = "waiting for the carrier's callback"
            elif service_order.courier_id in paused:
                outcomes[service_order.pk] = "paused"  # it waits; the sweep sends it once the alert closes
                held.append(service_order.pk)
            else:
                to_launch.append(service_order)
        if held:
            ServiceOrder.objects.filter(pk__in=held, waiting_reason="").update(waiting_reason=_waiting(0))
        if not to_launch:
            return []
        now = timezone.now()
        transition_many(
            to_launch,
            SO.PROCESSING,
            actor=ServiceOrderLog.Actor.PLATFORM,
            message=_("Sent to the carrier"),
            at=now,
            attempts=F("attempts") + 1,
            carrier_checked_at=now,
            waiting_reason="",
        )
    for service_order in to_launch:
        service_order.attempts += 1
    return to_launch


def _launch(facts: ParcelFacts, language: str, paused: set[str]) -> LaunchResult:
    # In a pool thread: no database here (adapters never touch it); the task's language for the reasons.
    if facts.courier in paused:
        raise CarrierPaused(facts.courier)
    with translation.override(language):
        return gateway.get_gateway().launch(facts)


def _waiting(http_status: int) -> str:
    return alerts.waiting_reason(http_status)[:200]


def _hold(held: dict[int, list[int]]) -> None:
    """Keep the service orders the carrier refused (or that were not sent) waiting, with the reason."""
    for http_status, service_order_ids in held.items():
        ServiceOrder.objects.filter(pk__in=service_order_ids, status__in=ServiceOrder.PENDING_STATUSES).update(
            waiting_reason=_waiting(http_status)
        )


def _record(service_order_id: int, result: LaunchResult) -> str:
    if result.status == "processing":
        ServiceOrder.objects.filter(pk=service_order_id, carrier_ref="").update(carrier_ref=result.carrier_ref)
        return "processing"
    apply_result(
        service_order_id=service_order_id,
        status=result.status,
        reason=result.reason,
        occurred_at=result.occurred_at or timezone.now(),
        carrier_ref=result.carrier_ref,
    )
    return result.status


def _retry_later(service_orders: list[ServiceOrder]) -> None:
    """Queue the given service orders' carrier calls again, after a delay that grows with their calls."""
    if not service_orders:
        return
    attempts = min(so.attempts for so in service_orders)
    if attempts > len(CARRIER_RETRY_DELAYS):
        logger.error(
            "carrier unreachable after %s calls, left processing: %s",
            attempts,
            ", ".join(so.number for so in service_orders),
        )
        return
    schedule(
        "interception.tasks.run_service_orders",
        sorted(so.pk for so in service_orders),
        schedule_type=Schedule.ONCE,
        repeats=-1,  # a ONCE schedule is deleted once run
        next_run=timezone.now() + CARRIER_RETRY_DELAYS[attempts - 1],
    )
