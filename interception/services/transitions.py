"""The one way a service order's status moves: along ServiceOrder.TRANSITIONS, with a history row.

Used by the launch, the carrier task and the results; the rows are locked by the caller (locks.py).
"""

from collections.abc import Iterable
from datetime import datetime

from django.utils.translation import gettext as _

from shop.errors import DomainError

from ..models import ServiceOrder, ServiceOrderLog

Actor = ServiceOrderLog.Actor


def _refuse_unless_allowed(service_order: ServiceOrder, to_status: str) -> None:
    if to_status not in ServiceOrder.TRANSITIONS[service_order.status]:
        raise DomainError(
            _("A service order cannot move from %(from)s to %(to)s.") % {"from": service_order.status, "to": to_status},
            code="invalid_transition",
        )


def _row(service_order, from_status, to_status, *, actor, user, message, at) -> ServiceOrderLog:
    return ServiceOrderLog(
        service_order=service_order,
        from_status=from_status,
        to_status=to_status,
        actor=actor,
        user=user,
        message=str(message)[:300],
        at=at,
    )


def log_launched(service_orders: Iterable[ServiceOrder], *, actor: str, user, message: str, at: datetime) -> None:
    """The first history row of each new service order ("" → submitted), in one INSERT."""
    ServiceOrderLog.objects.bulk_create(
        _row(so, "", ServiceOrder.Status.SUBMITTED, actor=actor, user=user, message=message, at=at)
        for so in service_orders
    )


def transition(
    service_order: ServiceOrder,
    to_status: str,
    *,
    actor: str,
    user=None,
    message: str = "",
    at: datetime,
    fields: Iterable[str] = (),
) -> None:
    """Move one locked service order, saving `fields` with its status, and write the history row.

    Refuses (DomainError) a move the table does not allow.
    """
    _refuse_unless_allowed(service_order, to_status)
    from_status = service_order.status
    service_order.status = to_status
    service_order.save(update_fields=["status", *fields, "updated_at"])
    _row(service_order, from_status, to_status, actor=actor, user=user, message=message, at=at).save()


def transition_many(
    service_orders: list[ServiceOrder], to_status: str, *, actor: str, message: str, at: datetime, **updates
) -> None:
    """Move many locked service orders at once: one UPDATE (with `updates`), one INSERT of history rows.

    A service order already in `to_status` stays there (updated, no history row): the carrier task
    sends a "processing" one again. Any other move the table does not allow is refused (DomainError).
    """
    moving = [so for so in service_orders if so.status != to_status]
    for service_order in moving:
        _refuse_unless_allowed(service_order, to_status)
    ServiceOrder.objects.filter(pk__in=[so.pk for so in service_orders]).update(status=to_status, **updates)
    ServiceOrderLog.objects.bulk_create(
        _row(so, so.status, to_status, actor=actor, user=None, message=message, at=at) for so in moving
    )
    for service_order in service_orders:
        service_order.status = to_status
