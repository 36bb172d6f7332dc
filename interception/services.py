"""Interception service orders: preview, launch, run the carrier calls, apply results.

Lock order: order → line → after-sale → service order (→ refund, inside aftersales).
The carrier is called by a task outside any transaction; each result is applied in a short one.
"""

import logging
from collections import Counter
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django_q.models import Schedule
from django_q.tasks import async_task, schedule

from aftersales import services as aftersales_services
from aftersales.models import AfterSale
from shop import changes
from shop import services as shop_services
from shop.errors import DomainError, NotFound
from shop.models import Parcel, Shop

from . import rules
from .gateway import CarrierError, LaunchResult, ParcelFacts, get_gateway
from .models import FeeCharge, InterceptionBatch, Partnership, ServiceOrder, ServiceOrderLog

logger = logging.getLogger(__name__)

SO = ServiceOrder.Status

# Service orders per carrier task. A task runs its carrier calls CARRIER_CONCURRENCY at a time and
# applies each answer as it arrives, so a bigger chunk hides more of the carrier's latency behind our
# own writes; but the whole chunk must fit in Q_CLUSTER's timeout (120 s) when the HTTP carrier is at
# its worst (4 attempts × 5 s timeouts + 3.5 s backoff ≈ 24 s a call): 3 rounds of 16 stay near 70 s.
LAUNCH_CHUNK_SIZE = 40
# A chunk's calls that the carrier did not answer (CarrierError) run again later, as their own task, after
# these delays (the django-q2 scheduler looks about every 30 s). Not a raise for django-q2 to retry:
# with ack_failures it acknowledges a failed task and never runs it again, and a raise would also
# report the chunk's other parcels as failed. After the last delay they stay "processing" (logged).
CARRIER_RETRY_DELAYS = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=15), timedelta(hours=1))


def _already_under_way() -> str:
    return _("an interception of this parcel is already under way or done")


@dataclass
class Candidate:
    """One parcel of one after-sale, as the preview and the launch see it."""

    after_sale: AfterSale
    parcel: Parcel | None
    fee: rules.Fee | None
    blocker: str | None
    warning: str = ""

    @property
    def ok(self) -> bool:
        return self.blocker is None


def candidates_for(*, shop: Shop, after_sale_ids: list[int], precheck: bool = True) -> list[Candidate]:
    """Each after-sale's parcel with its fee and, if it cannot be intercepted, why. Fixed query count."""
    after_sales = list(
        AfterSale.objects.filter(shop=shop, pk__in=after_sale_ids)
        .select_related("parcel__courier", "parcel__outlet", "line", "order")
        .annotate(
            live_order=Exists(
                ServiceOrder.objects.filter(parcel_id=OuterRef("parcel_id"), status__in=ServiceOrder.LIVE_STATUSES)
            )
        )
        .order_by("parcel__courier__code", "id")
    )
    outlet_ids = {a.parcel.outlet_id for a in after_sales if a.parcel_id}
    partnerships = {
        p.outlet_id: p
        for p in Partnership.objects.filter(shop=shop, outlet_id__in=outlet_ids, status=Partnership.Status.ACTIVE)
    }
    gateway = get_gateway() if precheck else None
    result = []
    for after_sale in after_sales:
        parcel = after_sale.parcel
        blocker = rules.interception_blocker(
            rules.Eligibility(
                after_sale_status=after_sale.status,
                after_sale_type=after_sale.type,
                parcel_status=parcel.status if parcel else None,
                courier_supports_online=bool(parcel and parcel.courier.supports_online_interception),
                has_live_service_order=after_sale.live_order,
            )
        )
        fee, warning = None, ""
        if parcel is not None:
            partnership = partnerships.get(parcel.outlet_id)
            fee = rules.fee_for(
                active_partnership_id=partnership.pk if partnership else None,
                partnership_fee=partnership.fee if partnership else None,
            )
        if blocker is None and gateway is not None:
            check = gateway.precheck(_facts(parcel))
            if not check.ok:
                blocker = check.reason
            warning = check.reason if check.ok else ""
        result.append(Candidate(after_sale=after_sale, parcel=parcel, fee=fee, blocker=blocker, warning=warning))
    return result


def _facts(parcel: Parcel, service_order_id: int | None = None) -> ParcelFacts:
    return ParcelFacts(
        service_order_id=service_order_id,
        courier=parcel.courier.code,
        tracking_no=parcel.tracking_no,
        status=parcel.status,
    )


def _log(service_order: ServiceOrder, from_status: str, to_status: str, message: str = "", at=None) -> None:
    ServiceOrderLog.objects.create(
        service_order=service_order,
        from_status=from_status,
        to_status=to_status,
        message=str(message)[:300],
        at=at or timezone.now(),
    )


@transaction.atomic
def launch_interceptions(
    *,
    shop: Shop,
    user,
    after_sale_ids: list[int],
    via: str,
    batch: InterceptionBatch | None = None,
    enqueue: bool = True,
) -> tuple[list[ServiceOrder], list[tuple[AfterSale, str]]]:
    """Create a service order per eligible after-sale's parcel and queue the carrier calls.

    Returns (created, skipped with reasons). Pre-checks run again here, under the locks. A fixed
    number of queries whatever the count: a bulk confirm of 1 000 is as quick as one of 3.
    """
    aftersales_services.lock_after_sales(after_sale_ids, shop=shop)
    # Re-check on the locked rows: another launch or a buyer event may have come first.
    candidates = candidates_for(shop=shop, after_sale_ids=sorted(set(after_sale_ids)), precheck=False)
    eligible, skipped, parcels = [], [], set()
    for candidate in candidates:
        if candidate.ok and candidate.parcel.pk in parcels:  # two after-sales of one parcel: one interception
            candidate.blocker = _already_under_way()
        if not candidate.ok:
            skipped.append((candidate.after_sale, candidate.blocker))
            continue
        parcels.add(candidate.parcel.pk)
        eligible.append(candidate)
    created = _create_service_orders(eligible, shop=shop, user=user, via=via, batch=batch, skipped=skipped)
    message = _("Launched via %(via)s") % {"via": ServiceOrder.Via(via).label}
    now = timezone.now()
    ServiceOrderLog.objects.bulk_create(
        ServiceOrderLog(service_order=service_order, from_status="", to_status=SO.SUBMITTED, message=message, at=now)
        for service_order in created
    )
    ids = [service_order.pk for service_order in created]
    changes.record_changes((shop.pk, changes.SERVICE_ORDER_UPDATED, pk) for pk in ids)
    if enqueue and ids:  # the demo seed writes its own results and queues nothing
        chunks = [ids[i : i + LAUNCH_CHUNK_SIZE] for i in range(0, len(ids), LAUNCH_CHUNK_SIZE)]
        transaction.on_commit(lambda: [async_task("interception.tasks.run_service_orders", c) for c in chunks])
    return created, skipped


def _create_service_orders(
    eligible: list[Candidate], *, shop: Shop, user, via: str, batch, skipped: list
) -> list[ServiceOrder]:
    """Insert the service orders at once. The unique live-order-per-parcel constraint stays the last
    line: if the bulk insert hits it (a launch outside these locks won the race), insert one by one so
    that only the conflicting parcels are skipped."""

    def build(candidate: Candidate) -> ServiceOrder:
        parcel = candidate.parcel
        return ServiceOrder(
            shop=shop,
            after_sale=candidate.after_sale,
            parcel=parcel,
            courier=parcel.courier,
            outlet=parcel.outlet,
            partnership_id=candidate.fee.partnership_id,
            batch=batch,
            mode=candidate.fee.mode,
            fee=candidate.fee.amount,
            via=via,
            created_by=user,
        )

    try:
        with transaction.atomic():
            return ServiceOrder.objects.bulk_create([build(candidate) for candidate in eligible])
    except IntegrityError:
        pass
    created = []
    for candidate in eligible:
        try:
            with transaction.atomic():
                service_order = build(candidate)
                service_order.save(force_insert=True)
        except IntegrityError:
            skipped.append((candidate.after_sale, _already_under_way()))
            continue
        created.append(service_order)
    return created


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


def _run(service_order_ids: list[int]) -> dict[int, str]:
    outcomes: dict[int, str] = {}
    to_launch = _mark_processing(service_order_ids, outcomes)
    if not to_launch:
        return outcomes
    language = translation.get_language()
    retry, errors = [], []
    # The carrier calls run in a pool (they mostly wait on the network) while this thread applies each
    # answer as it arrives: the database work stays here, in the task's own thread and connection.
    workers = max(1, min(settings.CARRIER_CONCURRENCY, len(to_launch)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="carrier") as pool:
        calls = {pool.submit(_launch, _facts(so.parcel, so.pk), language): so for so in to_launch}
        for call in as_completed(calls):
            service_order = calls[call]
            try:
                outcomes[service_order.pk] = _record(service_order.pk, call.result())
            except CarrierError as exc:  # the carrier did not answer this one: the others go on
                logger.warning("carrier call for %s failed: %s", service_order.number, exc)
                outcomes[service_order.pk] = "retry"
                retry.append(service_order)
            except Exception as exc:  # a bug or the database: keep going, fail the task at the end
                logger.exception("service order %s: result not applied", service_order.number)
                outcomes[service_order.pk] = "error"
                retry.append(service_order)
                errors.append(exc)
    _retry_later(retry)
    if errors:
        raise errors[0]  # shown as a failed task; the others' results are applied, these retried
    return outcomes


def _mark_processing(service_order_ids: list[int], outcomes: dict[int, str]) -> list[ServiceOrder]:
    """Move the chunk's pending service orders to "processing" and count the carrier call, in one short
    transaction. Returns those to send to the carrier: not those already accepted (a carrier_ref),
    whose result comes by callback."""
    outcomes.update(dict.fromkeys(service_order_ids, "nothing to do"))
    with transaction.atomic():
        pending = list(
            ServiceOrder.objects.select_for_update(of=("self",))
            .select_related("parcel__courier")
            .filter(pk__in=service_order_ids, status__in=ServiceOrder.PENDING_STATUSES)
            .order_by("pk")
        )
        to_launch = []
        for service_order in pending:
            if service_order.status == SO.PROCESSING and service_order.carrier_ref:
                outcomes[service_order.pk] = "waiting for the carrier's callback"
            else:
                to_launch.append(service_order)
        if not to_launch:
            return []
        ServiceOrder.objects.filter(pk__in=[so.pk for so in to_launch]).update(
            status=SO.PROCESSING, attempts=F("attempts") + 1
        )
        changes.record_changes((so.shop_id, changes.SERVICE_ORDER_UPDATED, so.pk) for so in to_launch)
        now, sent = timezone.now(), _("Sent to the carrier")
        ServiceOrderLog.objects.bulk_create(
            ServiceOrderLog(service_order=so, from_status=SO.SUBMITTED, to_status=SO.PROCESSING, message=sent, at=now)
            for so in to_launch
            if so.status == SO.SUBMITTED
        )
    for service_order in to_launch:
        service_order.status, service_order.attempts = SO.PROCESSING, service_order.attempts + 1
    return to_launch


def _launch(facts: ParcelFacts, language: str) -> LaunchResult:
    # In a pool thread: no database here (adapters never touch it); the task's language for the reasons.
    with translation.override(language):
        return get_gateway().launch(facts)


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


def _lock_service_order(service_order_id: int) -> ServiceOrder:
    """Lock order → line → after-sale, then the service order, whose `after_sale` is the locked one."""
    ids = (
        ServiceOrder.objects.filter(pk=service_order_id)
        .values("after_sale_id", "after_sale__order_id", "after_sale__line_id")
        .first()
    )
    if ids is None:
        raise NotFound(_("Service order not found."))
    after_sale = aftersales_services.lock_after_sale(
        ids["after_sale_id"], order_id=ids["after_sale__order_id"], line_id=ids["after_sale__line_id"]
    )
    # The parcel too (as record_parcel_status would, after the order): _succeed moves it with no other lookup.
    service_order = (
        ServiceOrder.objects.select_for_update(of=("self", "parcel"))
        .select_related("parcel__courier")
        .get(pk=service_order_id)
    )
    service_order.after_sale = after_sale
    return service_order


RESULT_STATUSES = {SO.SUCCEEDED, SO.FAILED, SO.RETURNING, SO.RETURNED, SO.RETURN_FAILED}
# Which result may follow which: a result never moves a service order back, and a failure is final.
RESULT_TRANSITIONS: dict[str, frozenset[str]] = {
    SO.SUBMITTED: frozenset(RESULT_STATUSES),
    SO.PROCESSING: frozenset(RESULT_STATUSES),
    SO.SUCCEEDED: frozenset({SO.RETURNING, SO.RETURNED, SO.RETURN_FAILED}),
    SO.RETURNING: frozenset({SO.RETURNED, SO.RETURN_FAILED}),
    SO.RETURNED: frozenset({SO.RETURN_FAILED}),  # opened, found damaged
    SO.FAILED: frozenset(),
    SO.RETURN_FAILED: frozenset(),
}


@transaction.atomic
def apply_result(
    *,
    service_order_id: int,
    status: str,
    reason: str = "",
    occurred_at: datetime,
    carrier_ref: str = "",
    return_failure: str = "",
) -> bool:
    """Apply a carrier result. Returns False when it changed nothing (older, duplicate or regressive)."""
    if status not in RESULT_STATUSES:
        raise DomainError(_("Unknown result status."), code="invalid_status")
    service_order = _lock_service_order(service_order_id)
    current = service_order.status
    if service_order.result_at and occurred_at < service_order.result_at:
        return False  # an older result never overrides a newer one
    if status not in RESULT_TRANSITIONS[current]:
        return False  # a duplicate, or a result that would move it back
    # The parcel was stopped: a success, or a return reported without the success first.
    succeeds = status != SO.FAILED and current in ServiceOrder.PENDING_STATUSES
    if succeeds and service_order.succeeded_at is None:
        service_order.succeeded_at = occurred_at
    service_order.status = status
    service_order.result_at = occurred_at
    if carrier_ref and not service_order.carrier_ref:
        service_order.carrier_ref = carrier_ref
    if status == SO.FAILED:
        service_order.failure_reason = reason[:200] or _("the courier could not stop the parcel")
    if status == SO.RETURN_FAILED:
        service_order.return_failure = return_failure or ServiceOrder.ReturnFailure.LOST
    service_order.save(
        update_fields=[
            "status",
            "result_at",
            "succeeded_at",
            "carrier_ref",
            "failure_reason",
            "return_failure",
            "updated_at",
        ]
    )
    _log(service_order, current, status, reason, at=occurred_at)
    changes.record_change(
        shop_id=service_order.shop_id, event=changes.SERVICE_ORDER_UPDATED, object_id=service_order.pk
    )
    if succeeds:
        _succeed(service_order, occurred_at)
    return True


def _succeed(service_order: ServiceOrder, at: datetime) -> None:
    """Charge the fee once, mark the parcel intercepted, refund the buyer (each step safe twice).

    Runs once per parcel of a bulk interception, so each step is as few queries as it can be; the
    service order comes from _lock_service_order, its after-sale locked.
    """
    # One INSERT … ON CONFLICT DO NOTHING on the one-fee-per-service-order key: charged once even if run
    # twice, without get_or_create's read and savepoint.
    fee = FeeCharge(
        shop_id=service_order.shop_id,
        service_order=service_order,
        courier_id=service_order.courier_id,
        outlet_id=service_order.outlet_id,
        mode=service_order.mode,
        amount=service_order.fee,
        charged_at=at,
    )
    FeeCharge.objects.bulk_create([fee], ignore_conflicts=True)
    parcel = service_order.parcel
    if parcel.status in Parcel.MOVING_STATUSES or parcel.status == Parcel.Status.EXCEPTION:
        # No savepoint: it refuses (DomainError) before it writes anything. The order and the parcel
        # are locked (_lock_service_order).
        try:
            shop_services.record_locked_parcel_status(
                parcel=parcel,
                status=Parcel.Status.INTERCEPTED,
                at=max(at, parcel.status_at),
                note=_("Intercepted (service order %(no)s)") % {"no": service_order.number},
            )
        except DomainError:
            pass  # the parcel moved on meanwhile; the carrier's word on the interception stands
    label = _("%(date)s intercepted") % {"date": timezone.localtime(at).strftime("%m-%d")}
    aftersales_services.refund_after_interception(
        after_sale_id=service_order.after_sale_id, at=at, label=label, locked=service_order.after_sale
    )


@transaction.atomic
def create_batch(*, shop: Shop, user, via: str, after_sale_ids: list[int], skipped: list[dict]) -> InterceptionBatch:
    batch = InterceptionBatch.objects.create(shop=shop, created_by=user, via=via, skipped=skipped)
    _created, refused = launch_interceptions(shop=shop, user=user, after_sale_ids=after_sale_ids, via=via, batch=batch)
    if refused:
        batch.skipped = skipped + [{"ref": a.after_sale_no, "reason": reason} for a, reason in refused]
        batch.save(update_fields=["skipped"])
    return batch


@transaction.atomic
def retry_failed(*, batch: InterceptionBatch, user) -> InterceptionBatch:
    """Launch again the batch's failed interceptions whose after-sale can still be intercepted."""
    failed = list(ServiceOrder.objects.filter(batch=batch, status=SO.FAILED).values_list("after_sale_id", flat=True))
    launch_interceptions(shop=batch.shop, user=user, after_sale_ids=failed, via=batch.via, batch=batch)
    return batch
