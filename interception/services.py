"""Interception service orders: preview, launch, run the carrier call, apply results.

Lock order: order → line → after-sale → service order (→ refund, inside aftersales).
The carrier is called by a task outside any transaction; results are applied in a short one.
"""

from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _
from django_q.tasks import async_task

from aftersales import services as aftersales_services
from aftersales.models import AfterSale
from shop import services as shop_services
from shop.errors import DomainError, NotFound
from shop.models import Parcel, Shop

from . import rules
from .gateway import CarrierError, ParcelFacts, get_gateway
from .models import FeeCharge, InterceptionBatch, Partnership, ServiceOrder, ServiceOrderLog

SO = ServiceOrder.Status


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

    Returns (created, skipped with reasons). Pre-checks run again here, under the locks.
    """
    created, skipped = [], []
    for candidate in candidates_for(shop=shop, after_sale_ids=sorted(after_sale_ids), precheck=False):
        after_sale = aftersales_services.lock_after_sale(candidate.after_sale.pk, shop=shop)
        # Re-check on the locked rows: another launch or a buyer event may have come first.
        fresh = candidates_for(shop=shop, after_sale_ids=[after_sale.pk], precheck=False)[0]
        if not fresh.ok:
            skipped.append((after_sale, fresh.blocker))
            continue
        parcel = fresh.parcel
        try:
            with transaction.atomic():
                service_order = ServiceOrder.objects.create(
                    shop=shop,
                    after_sale=after_sale,
                    parcel=parcel,
                    courier=parcel.courier,
                    outlet=parcel.outlet,
                    partnership_id=fresh.fee.partnership_id,
                    batch=batch,
                    mode=fresh.fee.mode,
                    fee=fresh.fee.amount,
                    via=via,
                    created_by=user,
                )
        except IntegrityError:
            skipped.append((after_sale, _("an interception of this parcel is already under way or done")))
            continue
        _log(service_order, "", SO.SUBMITTED, _("Launched via %(via)s") % {"via": ServiceOrder.Via(via).label})
        created.append(service_order)
    ids = [service_order.pk for service_order in created]
    if enqueue:  # the demo seed writes its own results and queues nothing
        transaction.on_commit(lambda: [async_task("interception.tasks.run_service_order", pk) for pk in ids])
    return created, skipped


def run_service_order(service_order_id: int) -> str:
    """The task: call the carrier for one service order. At least once: a retry never acts twice."""
    service_order = ServiceOrder.objects.select_related("parcel__courier").filter(pk=service_order_id).first()
    if service_order is None or service_order.status not in ServiceOrder.PENDING_STATUSES:
        return "nothing to do"
    if service_order.status == SO.PROCESSING and service_order.carrier_ref:
        return "waiting for the carrier's callback"
    with transaction.atomic():
        moved = ServiceOrder.objects.filter(pk=service_order_id, status__in=ServiceOrder.PENDING_STATUSES).update(
            status=SO.PROCESSING, attempts=F("attempts") + 1
        )
        if moved and service_order.status == SO.SUBMITTED:
            _log(service_order, SO.SUBMITTED, SO.PROCESSING, _("Sent to the carrier"))
    try:
        result = get_gateway().launch(_facts(service_order.parcel, service_order.pk))
    except CarrierError:
        raise  # django-q2 retries the task; the service order stays processing meanwhile
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


def _lock_service_order(service_order_id: int) -> ServiceOrder:
    ids = ServiceOrder.objects.filter(pk=service_order_id).values("after_sale_id").first()
    if ids is None:
        raise NotFound(_("Service order not found."))
    aftersales_services.lock_after_sale(ids["after_sale_id"])
    return (
        ServiceOrder.objects.select_for_update(of=("self",)).select_related("parcel__courier").get(pk=service_order_id)
    )


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
    if status in (SO.RETURNING, SO.RETURNED, SO.RETURN_FAILED) and current in ServiceOrder.PENDING_STATUSES:
        _succeed(service_order, occurred_at)
    service_order.status = status
    service_order.result_at = occurred_at
    if carrier_ref and not service_order.carrier_ref:
        service_order.carrier_ref = carrier_ref
    if status == SO.FAILED:
        service_order.failure_reason = reason[:200] or _("the courier could not stop the parcel")
    if status == SO.RETURN_FAILED:
        service_order.return_failure = return_failure or ServiceOrder.ReturnFailure.LOST
    service_order.save(
        update_fields=["status", "result_at", "carrier_ref", "failure_reason", "return_failure", "updated_at"]
    )
    _log(service_order, current, status, reason, at=occurred_at)
    if status == SO.SUCCEEDED:
        _succeed(service_order, occurred_at)
    return True


def _succeed(service_order: ServiceOrder, at: datetime) -> None:
    """Charge the fee once, mark the parcel intercepted, refund the buyer (each step safe twice)."""
    if service_order.succeeded_at is None:
        service_order.succeeded_at = at
        ServiceOrder.objects.filter(pk=service_order.pk).update(succeeded_at=at)
    FeeCharge.objects.get_or_create(
        service_order=service_order,
        defaults={
            "shop_id": service_order.shop_id,
            "courier_id": service_order.courier_id,
            "outlet_id": service_order.outlet_id,
            "mode": service_order.mode,
            "amount": service_order.fee,
            "charged_at": at,
        },
    )
    parcel = service_order.parcel
    if parcel.status in Parcel.MOVING_STATUSES or parcel.status == Parcel.Status.EXCEPTION:
        try:
            with transaction.atomic():
                shop_services.record_parcel_status(
                    courier_code=parcel.courier.code,
                    tracking_no=parcel.tracking_no,
                    status=Parcel.Status.INTERCEPTED,
                    at=max(at, parcel.status_at),
                    note=_("Intercepted (service order %(no)s)") % {"no": service_order.number},
                )
        except DomainError:
            pass  # the parcel moved on meanwhile; the carrier's word on the interception stands
    label = _("%(date)s intercepted") % {"date": timezone.localtime(at).strftime("%m-%d")}
    aftersales_services.refund_after_interception(after_sale_id=service_order.after_sale_id, at=at, label=label)


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
