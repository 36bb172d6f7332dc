"""django-q2 entry points. Each takes ids, re-reads rows and is safe to run twice or concurrently."""

import logging
from datetime import datetime

from django.utils import timezone

from . import notifications, services
from .models import AfterSale

logger = logging.getLogger(__name__)

SWEEP_BATCH = 500


def sweep_overdue_after_sales(limit: int | None = None, *, now: datetime | None = None) -> int:
    """Every minute: the platform acts on each open after-sale whose merchant deadline has passed.

    Each after-sale is handled in its own short transaction under its row locks, and the service
    re-checks the deadline under the lock, so two sweeps at once never act twice. `now` is for tests.
    """
    now = now or timezone.now()
    handled = 0
    last_id = 0
    while limit is None or handled < limit:
        batch = list(
            AfterSale.objects.filter(status__in=AfterSale.OPEN_STATUSES, deadline__lt=now, pk__gt=last_id)
            .exclude(status=AfterSale.Status.ARBITRATION)
            .order_by("pk")
            .values_list("pk", flat=True)[:SWEEP_BATCH]
        )
        if not batch:
            break
        for after_sale_id in batch:
            try:
                if services.time_out_after_sale(after_sale_id=after_sale_id, now=now) is not None:
                    handled += 1
            except Exception:  # one broken after-sale must not stop the platform acting on the others
                logger.exception("timeout of after-sale %s failed", after_sale_id)
        last_id = batch[-1]
    return handled


def retry_notifications() -> int:
    return notifications.retry_due_notifications()
