"""The results stage: a carrier's answer (or the parcel's way back) applied to its service order.

A success charges the fee once, marks the parcel intercepted and refunds the buyer, all in the
result's transaction; an older, duplicate or regressive result changes nothing.
"""

from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from aftersales import services as aftersales_services
from aftersales.models import Actor, AfterSaleLog
from aftersales.services.base import log_row
from shop import services as shop_services
from shop.errors import DomainError
from shop.models import Parcel

from .. import locks
from ..models import FeeCharge, ServiceOrder, ServiceOrderLog
from .transitions import transition

SO = ServiceOrder.Status
RESULT_STATUSES = ServiceOrder.RESULT_STATUSES

# The carrier's result vocabulary (callbacks and status queries) → (our result status, return failure).
CARRIER_RESULTS: dict[str, tuple[str, str]] = {
    "succeeded": (SO.SUCCEEDED, ""),
    "failed": (SO.FAILED, ""),
    "returning": (SO.RETURNING, ""),
    "returned": (SO.RETURNED, ""),
    "lost": (SO.RETURN_FAILED, ServiceOrder.ReturnFailure.LOST),
    "damaged": (SO.RETURN_FAILED, ServiceOrder.ReturnFailure.DAMAGED),
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
    actor: str = ServiceOrderLog.Actor.CARRIER,
) -> bool:
    """Apply a carrier result. Returns False when it changed nothing (older, duplicate or regressive).

    `actor`: who reported it, for the history (the carrier, unless the platform's tracking events).
    """
    if status not in RESULT_STATUSES:
        raise DomainError(_("Unknown result status."), code="invalid_status")
    service_order = locks.service_order(service_order_id)
    current = service_order.status
    if service_order.result_at and occurred_at < service_order.result_at:
        return False  # an older result never overrides a newer one
    if status not in ServiceOrder.TRANSITIONS[current]:
        return False  # a duplicate, or a result that would move it back
    # The parcel was stopped: a success, or a return reported without the success first.
    succeeds = status != SO.FAILED and current in ServiceOrder.PENDING_STATUSES
    if succeeds and service_order.succeeded_at is None:
        service_order.succeeded_at = occurred_at
    service_order.result_at = occurred_at
    if carrier_ref and not service_order.carrier_ref:
        service_order.carrier_ref = carrier_ref
    if status == SO.FAILED:
        service_order.failure_reason = reason[:200] or _("the courier could not stop the parcel")
    if status == SO.RETURN_FAILED:
        service_order.return_failure = return_failure or ServiceOrder.ReturnFailure.LOST
    service_order.waiting_reason = ""  # a result: nothing is waiting any more
    transition(
        service_order,
        status,
        actor=actor,
        message=reason,
        at=occurred_at,
        fields=["result_at", "succeeded_at", "carrier_ref", "failure_reason", "return_failure", "waiting_reason"],
    )
    note = _result_note(service_order, status)
    if succeeds:
        _succeed(service_order, occurred_at, note=note)
    else:  # the success's row is written with its remark and flag rows, in one insert
        log_row(
            service_order.after_sale,
            AfterSaleLog.Action.INTERCEPTION,
            actor=Actor.INTERCEPTION,
            message=note,
            at=occurred_at,
        ).save(force_insert=True)
    return True


def _result_note(service_order: ServiceOrder, status: str) -> str:
    """The after-sale history's words for a result: the service order, its new status, and why it failed."""
    text = _("Service order %(no)s: %(status)s") % {"no": service_order.number, "status": SO(status).label}
    if status == SO.FAILED:
        text = f"{text} ({service_order.failure_reason})"
    elif status == SO.RETURN_FAILED:
        text = f"{text} ({ServiceOrder.ReturnFailure(service_order.return_failure).label})"
    return text


def _succeed(service_order: ServiceOrder, at: datetime, *, note: str) -> None:
    """Charge the fee once, mark the parcel intercepted, refund the buyer (each step safe twice).

    Runs once per parcel of a bulk interception, so each step is as few queries as it can be; the
    service order comes from locks.service_order, its after-sale locked.
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
        # are locked (locks.service_order).
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
        after_sale_id=service_order.after_sale_id, at=at, label=label, locked=service_order.after_sale, note=note
    )
