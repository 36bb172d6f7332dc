"""Carrier configuration alerts: a courier's carrier refused our key or URL (401, 403, 404).

An open alert is the circuit: while it is open the carrier task and the sweep send nothing to that
courier (its service orders wait with the reason), except the sweep's one status query a run, which
closes the alert when it is answered. An operator closes it in the admin once the configuration is
fixed; the sweep then sends the waiting orders again.
"""

from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils.translation import gettext as _

from shop.errors import DomainError, NotFound

from ..gateway import CarrierConfigurationError
from ..models import CarrierAlert

MESSAGE_MAX_LENGTH = 300  # CarrierAlert.message


def waiting_reason(http_status: int) -> str:
    """What a service order waiting behind an open alert says (ServiceOrder.waiting_reason); http_status 0:
    it was not sent at all, the courier's calls being paused."""
    if not http_status:
        return _("waiting: calls to this courier are paused by an open carrier alert")
    return _("waiting: the carrier refused our configuration (HTTP %(status)s); an operator has been alerted") % {
        "status": http_status
    }


def paused_courier_ids() -> set[int]:
    """The couriers whose calls are paused: those with an open alert."""
    return set(CarrierAlert.objects.filter(status=CarrierAlert.Status.OPEN).values_list("courier_id", flat=True))


def open_carrier_alert(*, courier_id: int, error: CarrierConfigurationError, at: datetime) -> CarrierAlert:
    """Open the courier's alert, or count one more occurrence on the one already open (one per courier)."""
    message = str(error)[:MESSAGE_MAX_LENGTH]
    updates = {"http_status": error.http_status, "message": message, "last_seen_at": at}
    for _attempt in range(2):
        with transaction.atomic():
            alert = CarrierAlert.objects.select_for_update().filter(courier_id=courier_id, status="open").first()
            if alert is not None:
                CarrierAlert.objects.filter(pk=alert.pk).update(occurrences=F("occurrences") + 1, **updates)
                alert.refresh_from_db()
                return alert
            try:
                with transaction.atomic():
                    return CarrierAlert.objects.create(courier_id=courier_id, opened_at=at, **updates)
            except IntegrityError:
                continue  # another worker opened it meanwhile: count on that one
    raise RuntimeError("the open carrier alert vanished twice")  # pragma: no cover


@transaction.atomic
def close_carrier_alert(*, alert_id: int, user=None, note: str, at: datetime) -> CarrierAlert:
    """Close an open alert (calls to the courier resume); `user` None: the carrier answered again."""
    alert = CarrierAlert.objects.select_for_update().filter(pk=alert_id).first()
    if alert is None:
        raise NotFound(_("Carrier alert not found."))
    if alert.status != CarrierAlert.Status.OPEN:
        raise DomainError(_("This carrier alert is already closed."), code="alert_closed")
    alert.status = CarrierAlert.Status.CLOSED
    alert.closed_at = at
    alert.closed_by = user
    alert.close_note = note[:200]
    alert.save(update_fields=["status", "closed_at", "closed_by", "close_note"])
    return alert


def close_alerts_of(*, courier_id: int, at: datetime) -> int:
    """The carrier answered a call for this courier: close its open alert, if any. Returns how many closed."""
    closed = 0
    for alert_id in CarrierAlert.objects.filter(courier_id=courier_id, status="open").values_list("pk", flat=True):
        try:
            close_carrier_alert(alert_id=alert_id, note=_("The carrier answered again."), at=at)
        except DomainError:
            continue  # an operator closed it meanwhile
        closed += 1
    return closed
