"""django-q2 entry points. Each takes ids, re-reads rows and is safe to run twice or concurrently."""

import logging
from datetime import datetime

from django.utils import timezone

from . import notifications, services
from .models import AfterSale
from .services import bulk, timeouts

logger = logging.getLogger(__name__)

# After-sales per chunk: one transaction, its rows locked until it commits (a fraction of a second).
SWEEP_BATCH = 200


def overdue_after_sales(now: datetime, *, shop_id: int | None = None):
    """Open after-sales whose merchant deadline has passed; arbitration has no merchant deadline."""
    scope = AfterSale.objects.filter(status__in=AfterSale.OPEN_STATUSES, deadline__lt=now).exclude(
        status=AfterSale.Status.ARBITRATION
    )
    return scope if shop_id is None else scope.filter(shop_id=shop_id)


def sweep_overdue_after_sales(
    limit: int | None = None, *, now: datetime | None = None, shop_id: int | None = None
) -> int:
    """Every minute: the platform acts on each open after-sale whose merchant deadline has passed.

    A chunk of after-sales at a time, each chunk in one transaction under its rows' locks, re-checked
    under them (timeouts.time_out_after_sales), so two sweeps at once never act twice. Rows another
    transaction holds are passed over, then taken one at a time at the end, waiting for their locks.
    `shop_id`: only that shop's (the unit a sweep can be fanned out by). `now` is for tests. Returns how
    many after-sales the platform acted on.
    """
    now = now or timezone.now()
    handled = 0
    last_id = 0
    contended: list[int] = []
    while limit is None or handled < limit:
        size = SWEEP_BATCH if limit is None else min(SWEEP_BATCH, limit - handled)
        batch = list(
            overdue_after_sales(now, shop_id=shop_id)
            .filter(pk__gt=last_id)
            .order_by("pk")
            .values_list("pk", flat=True)[:size]
        )
        if not batch:
            break
        try:
            result = timeouts.time_out_after_sales(after_sale_ids=batch, now=now)
        except Exception:  # e.g. the database went away mid-chunk: nothing of it was kept, the next sweep retries
            logger.exception("timeout of after-sales %s…%s failed", batch[0], batch[-1])
        else:
            handled += len(result.handled)
            contended += result.contended
        last_id = batch[-1]
    # Held by a merchant acting, a bulk interception or another sweep when their chunk was locked: most
    # are done by now; the others one at a time, waiting for the locks (one after-sale's, no deadlock).
    if contended:
        still = overdue_after_sales(now, shop_id=shop_id).filter(pk__in=contended).order_by("pk")
        for after_sale_id in still.values_list("pk", flat=True):
            if limit is not None and handled >= limit:
                break
            try:
                if services.time_out_after_sale(after_sale_id=after_sale_id, now=now) is not None:
                    handled += 1
            except Exception:  # one broken after-sale must not stop the platform acting on the others
                logger.exception("timeout of after-sale %s failed", after_sale_id)
    return handled


def retry_notifications() -> int:
    return notifications.retry_due_notifications()


def run_bulk_job(job_id: int) -> str:
    """A bulk decision of the merchant (services.bulk): safe to run twice or by two workers at once."""
    return bulk.run_bulk_job(job_id)
