"""Outbound buyer notifications: recorded in the after-sale's transaction, delivered after commit.

Delivery is a django-q2 task per notification, or one per chunk of the timeout sweep or of a bulk
interception's results (`delivery_in_one_task`) (signed POST to
BUYER_NOTIFICATIONS_URL, like the inbound events), plus a sweep that retries the ones not yet
acknowledged, with backoff.

`delivery_by_sweep()` is the switch for replayed history (the demo seed): notifications written
inside it get no task of their own; the every-minute retry sweep delivers them, since they are due.
"""

import http.client
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_q.tasks import async_task

from shop.signing import sign

from .models import Actor, AfterSale, AfterSaleLog, BuyerNotification

MAX_ATTEMPTS = 12
BACKOFF = [timedelta(seconds=30), timedelta(minutes=2), timedelta(minutes=10), timedelta(hours=1)]
TIMEOUT_SECONDS = 5
# One task delivering many stops starting new ones after this long: far inside the worker's task
# timeout (Q_CLUSTER["timeout"], 120 s) even when the webhook hangs for TIMEOUT_SECONDS each time.
DELIVERY_BUDGET_SECONDS = 60

MESSAGES = {
    "refuse_parcel": _("Your refund will be paid once the parcel comes back: please refuse it on delivery."),
    "return_agreed": _("Your return was agreed: please send the goods back."),
    "refunded": _("Your refund was paid."),
    "rejected": _("Your request was rejected."),
    "card": _("The merchant invites you to apply for an after-sale."),
}


_deliver_by_sweep: ContextVar[bool] = ContextVar("deliver_by_sweep", default=False)
# Set inside delivery_in_one_task(): the ids of the notifications committed so far in the block.
_one_task: ContextVar[list[int] | None] = ContextVar("delivery_in_one_task", default=None)


@contextmanager
def delivery_by_sweep() -> Iterator[None]:
    """Notifications written in this block get no delivery task: the retry sweep delivers them."""
    token = _deliver_by_sweep.set(True)
    try:
        yield
    finally:
        _deliver_by_sweep.reset(token)


@contextmanager
def delivery_in_one_task() -> Iterator[None]:
    """Notifications written in this block are delivered by one task (deliver_many) queued as it ends,
    not by a task each: for a worker that applies many results in a row (a bulk interception's chunk
    refunds up to LAUNCH_CHUNK_SIZE buyers), whose notifications would otherwise queue a thousand
    tasks behind the carrier's. Only those whose transaction committed are in it; when the block
    ends inside a transaction, the task is queued once that one commits. A notification whose task is
    lost (the worker killed) is delivered by the retry sweep, as any other.
    """
    ids: list[int] = []
    token = _one_task.set(ids)
    try:
        yield
    finally:
        _one_task.reset(token)

        def queue() -> None:
            if ids:
                async_task("aftersales.notifications.deliver_many", list(ids))

        transaction.on_commit(queue)  # at once outside a transaction; after the others' appends inside one


def _enqueue(notification: BuyerNotification) -> None:
    if _deliver_by_sweep.get():
        return
    batch = _one_task.get()
    if batch is not None:
        transaction.on_commit(lambda: batch.append(notification.pk))
        return
    transaction.on_commit(lambda: async_task("aftersales.notifications.deliver", notification.pk))


def _unsaved(after_sale: AfterSale, kind: str, *, at=None, **extra) -> tuple[BuyerNotification, AfterSaleLog]:
    """The notification and its history row, not yet saved. `after_sale.order.buyer` and `.line` are read."""
    payload = {
        "kind": kind,
        "after_sale_no": after_sale.after_sale_no,
        "order_no": after_sale.order.order_no,
        "line_no": after_sale.line.line_no,
        "buyer_id": after_sale.order.buyer.external_id,
        "message": str(MESSAGES[kind]),
        **{key: (f"{value:.2f}" if hasattr(value, "quantize") else value) for key, value in extra.items()},
    }
    at = at or timezone.now()
    notification = BuyerNotification(
        shop_id=after_sale.shop_id,
        order_id=after_sale.order_id,
        line_id=after_sale.line_id,
        after_sale=after_sale,
        kind=kind,
        payload=payload,
        created_at=at,
        next_attempt_at=at + BACKOFF[0],  # the sweep's safety net if the task is lost
    )
    log = AfterSaleLog(
        after_sale=after_sale,
        action=AfterSaleLog.Action.NOTIFICATION,
        actor=Actor.PLATFORM,
        message=str(MESSAGES[kind]),
        at=at,
    )
    return notification, log


def notify_buyer(after_sale: AfterSale, kind: str, *, at=None, **extra) -> BuyerNotification:
    notification, log = _unsaved(after_sale, kind, at=at, **extra)
    notification.save()
    log.save()
    _enqueue(notification)
    return notification


def notify_buyers(requests: list[tuple[AfterSale, str, dict]], *, at) -> list[BuyerNotification]:
    """notify_buyer for many after-sales at once: (after-sale, kind, extra) each; two inserts, and one
    delivery task for all of them after commit.
    """
    if not requests:
        return []
    pairs = [_unsaved(after_sale, kind, at=at, **extra) for after_sale, kind, extra in requests]
    created = BuyerNotification.objects.bulk_create([notification for notification, _log in pairs])
    AfterSaleLog.objects.bulk_create([log for _notification, log in pairs])
    ids = [notification.pk for notification in created]
    if not _deliver_by_sweep.get():
        transaction.on_commit(lambda: async_task("aftersales.notifications.deliver_many", ids))
    return created


def notify_card(*, order, line, user, at: datetime | None = None) -> BuyerNotification:
    at = at or timezone.now()
    notification = BuyerNotification.objects.create(
        shop_id=order.shop_id,
        order=order,
        line=line,
        kind="card",
        payload={
            "kind": "card",
            "order_no": order.order_no,
            "line_no": line.line_no,
            "buyer_id": order.buyer.external_id,
            "message": str(MESSAGES["card"]),
            "sent_by": user.username,
        },
        created_at=at,
        next_attempt_at=at + BACKOFF[0],
    )
    _enqueue(notification)
    return notification


def _post(url: str, payload: dict) -> None:
    body = json.dumps(payload, ensure_ascii=False).encode()
    timestamp = str(int(time.time()))
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "X-Platform-Timestamp": timestamp,
            "X-Platform-Signature": sign(body, timestamp, settings.PLATFORM_EVENTS_SECRET),
        },
    )
    with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
        if not 200 <= response.status < 300:
            raise urllib.error.HTTPError(url, response.status, "not acknowledged", response.headers, None)


def deliver(notification_id: int) -> str:
    """Deliver one notification. Safe to run twice: a delivered one is left alone.

    The network call happens outside any transaction or row lock; only the outcome is written.
    """
    notification = BuyerNotification.objects.filter(pk=notification_id).first()
    if notification is None or notification.status != BuyerNotification.Status.PENDING:
        return "nothing to do"
    url = settings.BUYER_NOTIFICATIONS_URL
    if not url:
        BuyerNotification.objects.filter(pk=notification_id, status="pending").update(status="skipped")
        return "skipped"
    try:
        _post(url, {"id": f"notification-{notification.pk}", **notification.payload})
    except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as exc:
        # HTTPException: a reply that is not HTTP at all (BadStatusLine, …) is a failed attempt too.
        attempts = notification.attempts + 1
        delay = BACKOFF[min(attempts - 1, len(BACKOFF) - 1)]
        BuyerNotification.objects.filter(pk=notification_id, status="pending").update(
            attempts=attempts,
            last_error=str(exc)[:300],
            next_attempt_at=timezone.now() + delay,
            status="pending" if attempts < MAX_ATTEMPTS else "failed",
        )
        return "retry"
    BuyerNotification.objects.filter(pk=notification_id, status="pending").update(
        status="delivered", delivered_at=timezone.now(), attempts=notification.attempts + 1, last_error=""
    )
    return "delivered"


def deliver_many(notification_ids: list[int], *, budget_seconds: float = DELIVERY_BUDGET_SECONDS) -> dict[str, int]:
    """Deliver several notifications in one task (the timeout sweep queues one per chunk). Safe twice.

    Stops starting new deliveries after `budget_seconds`, well inside the worker's task timeout: the
    ones not reached stay pending, and the retry sweep delivers them once their first retry is due.
    """
    if not settings.BUYER_NOTIFICATIONS_URL:
        skipped = BuyerNotification.objects.filter(pk__in=notification_ids, status="pending").update(status="skipped")
        return {"skipped": skipped}
    outcomes: dict[str, int] = {}
    stop_at = time.monotonic() + budget_seconds
    for done, notification_id in enumerate(notification_ids):
        if time.monotonic() > stop_at:
            outcomes["left for the retry sweep"] = len(notification_ids) - done
            break
        outcome = deliver(notification_id)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes


def retry_due_notifications(limit: int = 500) -> int:
    """The every-minute sweep: re-deliver pending notifications whose next attempt is due."""
    now = timezone.now()
    due = list(
        BuyerNotification.objects.filter(status="pending", next_attempt_at__lte=now)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    for notification_id in due:
        deliver(notification_id)
    return len(due)
