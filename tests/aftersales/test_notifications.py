"""Buyer notifications: delivered to the platform webhook, signed like inbound events, retried until acknowledged.

The webhook is a real HTTP server on 127.0.0.1 (a thread, random port) that checks the signature.
"""

import hmac
import json
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.conf import settings
from django.utils import timezone
from django_q.tasks import async_task

from aftersales import notifications, services, tasks
from aftersales.models import BuyerNotification
from shop.models import Order
from shop.signing import sign
from tests.aftersales.factories import make_after_sale
from tests.shop.factories import make_order


class Webhook:
    def __init__(self):
        self.answer = 200
        self.received: list[dict] = []  # {"headers", "body", "signature_ok"}
        webhook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                timestamp = self.headers.get("X-Platform-Timestamp", "")
                expected = sign(body, timestamp, settings.PLATFORM_EVENTS_SECRET)
                signature_ok = hmac.compare_digest(expected, self.headers.get("X-Platform-Signature", "")) and (
                    abs(time.time() - int(timestamp)) <= 300
                )
                webhook.received.append(
                    {"headers": dict(self.headers), "body": json.loads(body), "signature_ok": signature_ok}
                )
                if webhook.answer == "garbage":  # not HTTP at all: http.client raises BadStatusLine
                    self.wfile.write(b"NONSENSE\r\n\r\n")
                    self.close_connection = True
                    return
                status = webhook.answer if signature_ok else 401
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"ok": true}' if status == 200 else b'{"error": "no"}')

            def log_message(self, *args):  # keep the test output quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/buyer-notifications"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def webhook(settings, monkeypatch):
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    hook = Webhook()
    settings.BUYER_NOTIFICATIONS_URL = hook.url
    yield hook
    hook.close()


@pytest.fixture
def notification(shop):
    order = make_order(shop, order_no="O-1001", status=Order.Status.COMPLETED, lines=[{"paid_amount": "100.00"}])
    after_sale = make_after_sale(order, after_sale_no="AS-5001", status="refunded")
    return notifications.notify_buyer(after_sale, "refunded", amount=after_sale.amount)


def test_without_a_webhook_url_the_notification_is_recorded_and_skipped(notification, settings):
    settings.BUYER_NOTIFICATIONS_URL = ""

    assert notifications.deliver(notification.pk) == "skipped"

    notification.refresh_from_db()
    assert (notification.status, notification.attempts, notification.delivered_at) == ("skipped", 0, None)
    assert notifications.deliver(notification.pk) == "nothing to do"


def test_the_notification_is_delivered_signed_to_the_webhook(notification, webhook):
    assert notifications.deliver(notification.pk) == "delivered"

    [request] = webhook.received
    assert request["signature_ok"] is True
    assert request["headers"]["Content-Type"] == "application/json"
    assert request["body"] == {
        "id": f"notification-{notification.pk}",
        "kind": "refunded",
        "after_sale_no": "AS-5001",
        "order_no": "O-1001",
        "line_no": "1",
        "buyer_id": notification.order.buyer.external_id,
        "message": str(notifications.MESSAGES["refunded"]),
        "amount": "100.00",
    }
    notification.refresh_from_db()
    assert (notification.status, notification.attempts, notification.last_error) == ("delivered", 1, "")
    assert notification.delivered_at is not None


def test_delivering_twice_sends_once(notification, webhook):
    notifications.deliver(notification.pk)

    assert notifications.deliver(notification.pk) == "nothing to do"

    assert len(webhook.received) == 1
    assert BuyerNotification.objects.get().attempts == 1


def test_a_webhook_answering_500_leaves_it_pending_for_a_later_attempt(notification, webhook):
    webhook.answer = 500
    start = timezone.now()

    assert notifications.deliver(notification.pk) == "retry"

    notification.refresh_from_db()
    assert (notification.status, notification.attempts, notification.delivered_at) == ("pending", 1, None)
    assert "500" in notification.last_error
    assert start + timedelta(seconds=30) <= notification.next_attempt_at <= timezone.now() + timedelta(seconds=30)
    assert len(webhook.received) == 1


def test_the_retry_sweep_delivers_it_once_it_is_due(notification, webhook, monkeypatch):
    webhook.answer = 500
    notifications.deliver(notification.pk)
    notification.refresh_from_db()
    webhook.answer = 200

    assert notifications.retry_due_notifications() == 0  # not due yet: nothing sent
    assert len(webhook.received) == 1

    later = notification.next_attempt_at + timedelta(seconds=1)
    monkeypatch.setattr(timezone, "now", lambda: later)
    assert tasks.retry_notifications() == 1

    notification.refresh_from_db()
    assert (notification.status, notification.attempts, notification.last_error) == ("delivered", 2, "")
    assert [r["body"]["id"] for r in webhook.received] == [f"notification-{notification.pk}"] * 2
    assert notifications.retry_due_notifications() == 0


def test_backoff_grows_with_each_failed_attempt(notification, webhook):
    webhook.answer = 503
    delays = []
    for _ in range(5):
        start = timezone.now()
        notifications.deliver(notification.pk)
        notification.refresh_from_db()
        delays.append(round((notification.next_attempt_at - start).total_seconds() / 10) * 10)

    assert delays == [30, 120, 600, 3600, 3600]
    assert notification.attempts == 5


def test_after_the_last_attempt_it_is_marked_failed(notification, webhook):
    webhook.answer = 500
    BuyerNotification.objects.filter(pk=notification.pk).update(attempts=notifications.MAX_ATTEMPTS - 1)

    assert notifications.deliver(notification.pk) == "retry"

    notification.refresh_from_db()
    assert (notification.status, notification.attempts) == ("failed", notifications.MAX_ATTEMPTS)
    assert notifications.deliver(notification.pk) == "nothing to do"


def test_an_unreachable_webhook_is_retried(notification, settings):
    webhook = Webhook()
    settings.BUYER_NOTIFICATIONS_URL = webhook.url
    webhook.close()  # nobody listens on that port any more

    assert notifications.deliver(notification.pk) == "retry"

    notification.refresh_from_db()
    assert (notification.status, notification.attempts) == ("pending", 1)
    assert notification.last_error


def test_a_refund_notifies_the_buyer_after_commit(shop, merchant, webhook, django_capture_on_commit_callbacks):
    order = make_order(shop, order_no="O-1001", status=Order.Status.COMPLETED, lines=[{"paid_amount": "100.00"}])
    after_sale = make_after_sale(order, after_sale_no="AS-5001", reason="quality", amount="40.00")

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.agree_refund(after_sale_id=after_sale.pk, shop=shop, user=merchant)
        assert webhook.received == []  # nothing leaves before the commit
    for callback in callbacks:
        callback()

    assert [(r["body"]["kind"], r["body"]["amount"], r["signature_ok"]) for r in webhook.received] == [
        ("refunded", "40.00", True)
    ]
    assert BuyerNotification.objects.get().status == "delivered"


def test_a_webhook_answering_garbage_is_retried_and_does_not_stop_the_sweep(shop, webhook, monkeypatch):
    order = make_order(shop, order_no="O-1001", status=Order.Status.COMPLETED, lines=[{"paid_amount": "100.00"}])
    after_sale = make_after_sale(order, after_sale_no="AS-5001", status="refunded")
    first = notifications.notify_buyer(after_sale, "refunded")
    second = notifications.notify_buyer(after_sale, "rejected")
    webhook.answer = "garbage"

    assert notifications.deliver(first.pk) == "retry"
    first.refresh_from_db()
    assert (first.status, first.attempts) == ("pending", 1)

    webhook.answer = 200
    later = first.next_attempt_at + timedelta(seconds=1)
    monkeypatch.setattr(timezone, "now", lambda: later)
    assert notifications.retry_due_notifications() == 2
    assert set(BuyerNotification.objects.values_list("status", flat=True)) == {"delivered"}
    assert second.pk in {int(r["body"]["id"].split("-")[1]) for r in webhook.received}


@pytest.fixture
def three_notifications(shop):
    made = []
    for i in range(3):
        order = make_order(shop, order_no=f"O-20{i}", status=Order.Status.COMPLETED, lines=[{"paid_amount": "10.00"}])
        after_sale = make_after_sale(order, after_sale_no=f"AS-20{i}", status="refunded")
        made.append(notifications.notify_buyer(after_sale, "refunded", amount=after_sale.amount))
    return made


def test_one_task_delivers_a_chunk_of_notifications(three_notifications, webhook):
    ids = [n.pk for n in three_notifications]

    assert notifications.deliver_many(ids) == {"delivered": 3}

    assert [r["body"]["id"] for r in webhook.received] == [f"notification-{pk}" for pk in ids]
    assert set(BuyerNotification.objects.values_list("status", flat=True)) == {"delivered"}
    assert notifications.deliver_many(ids) == {"nothing to do": 3}
    assert len(webhook.received) == 3


def test_without_a_webhook_url_a_chunk_is_skipped_in_one_query(
    three_notifications, settings, django_assert_num_queries
):
    settings.BUYER_NOTIFICATIONS_URL = ""

    with django_assert_num_queries(1):
        assert notifications.deliver_many([n.pk for n in three_notifications]) == {"skipped": 3}

    assert set(BuyerNotification.objects.values_list("status", flat=True)) == {"skipped"}


def test_a_chunk_past_its_time_budget_leaves_the_rest_to_the_retry_sweep(three_notifications, webhook):
    assert notifications.deliver_many([n.pk for n in three_notifications], budget_seconds=-1) == {
        "left for the retry sweep": 3
    }

    assert webhook.received == []
    assert set(BuyerNotification.objects.values_list("status", "attempts")) == {("pending", 0)}
    assert all(n.next_attempt_at is not None for n in BuyerNotification.objects.all())


def test_the_sweep_notifies_its_buyers_with_one_task_per_chunk_after_commit(
    shop, webhook, monkeypatch, django_capture_on_commit_callbacks
):
    now = timezone.now()
    for i, type in enumerate(["refund_only", "return_refund", "refund_only"]):
        order = make_order(shop, order_no=f"O-30{i}", status=Order.Status.COMPLETED, lines=[{"paid_amount": "10.00"}])
        make_after_sale(
            order, after_sale_no=f"AS-30{i}", type=type, reason="quality", deadline=now - timedelta(hours=1)
        )
    queued = []
    monkeypatch.setattr(notifications, "async_task", lambda *args: queued.append(args) or async_task(*args))

    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.sweep_overdue_after_sales(now=now) == 3

    ids = list(BuyerNotification.objects.order_by("pk").values_list("pk", flat=True))
    assert queued == [("aftersales.notifications.deliver_many", ids)]
    assert [(r["body"]["after_sale_no"], r["body"]["kind"]) for r in webhook.received] == [
        ("AS-300", "refunded"),
        ("AS-301", "return_agreed"),
        ("AS-302", "refunded"),
    ]
    assert set(BuyerNotification.objects.values_list("status", flat=True)) == {"delivered"}
