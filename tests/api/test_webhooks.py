"""Webhooks: endpoints through the API, signed deliveries from the change feed, retries, disabling."""

import hashlib
import hmac
import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone

from api import tasks, webhooks
from api.models import WebhookDelivery, WebhookEndpoint
from shop import changes
from tests.api.conftest import error_of

pytestmark = pytest.mark.django_db


class Server(ThreadingHTTPServer):
    request_queue_size = 64  # a sender opens up to 16 connections at once, two workers twice that


class Receiver:
    """A local HTTP server that records what it receives and answers with the statuses queued."""

    def __init__(self):
        self.received: list[dict] = []
        self.statuses: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append({"headers": dict(self.headers), "body": body, "path": self.path})
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", f"http://127.0.0.1:{receiver.port}/elsewhere")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/backoffice"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.close()


@pytest.fixture
def endpoint(api, receiver):
    response = api.post("/webhook-endpoints", {"url": receiver.url, "events": ["after_sale.updated", "refund.created"]})
    assert response.status_code == 201
    return response.json()


def _due_now():
    WebhookDelivery.objects.filter(status="pending").update(next_attempt_at=timezone.now())


def test_creating_an_endpoint_shows_its_secret_once(api, receiver):
    body = api.post("/webhook-endpoints", {"url": receiver.url, "events": ["after_sale.updated"]}).json()
    assert set(body) == {"id", "url", "events", "secret"} and body["secret"].startswith("whsec_")
    listed = api.get("/webhook-endpoints").json()["data"]
    assert [(e["id"], e["url"], e["active"]) for e in listed] == [(body["id"], receiver.url, True)]
    assert "secret" not in listed[0]


def test_an_endpoint_url_must_be_http_or_https(api):
    for url in ("ftp://example.com/x", "javascript:alert(1)", "file:///etc/passwd", "http://"):
        response = api.post("/webhook-endpoints", {"url": url, "events": ["after_sale.updated"]})
        assert (response.status_code, error_of(response)["field"]) == (422, "url"), url
    response = api.post("/webhook-endpoints", {"url": "https://erp.example.com/h", "events": ["order.paid"]})
    assert response.status_code == 422


def test_webhook_endpoints_need_a_write_token_even_to_list(read_api):
    assert read_api.get("/webhook-endpoints").status_code == 403


def test_deleting_an_endpoint_stops_it_and_another_shop_cannot(api, other_api, endpoint):
    assert other_api.delete(f"/webhook-endpoints/{endpoint['id']}").status_code == 404
    assert api.delete(f"/webhook-endpoints/{endpoint['id']}").status_code == 204
    assert api.get("/webhook-endpoints").json()["data"] == []
    assert api.delete(f"/webhook-endpoints/{endpoint['id']}").status_code == 404


def test_a_change_is_pushed_signed_with_the_contract_body(api, endpoint, receiver, after_sale):
    changes.record_change(shop_id=after_sale.shop_id, event=changes.AFTER_SALE_UPDATED, object_id=after_sale.pk)
    assert tasks.run_webhooks() == {"changes": 1, "attempts": 1}
    [request] = receiver.received
    body = json.loads(request["body"])
    assert body["type"] == "after_sale.updated" and body["id"].startswith("evt_")
    assert body["data"]["after_sale"]["after_sale_no"] == "AS-5001"
    assert body["created_at"].endswith("+08:00")
    timestamp, signature = request["headers"]["X-Backoffice-Timestamp"], request["headers"]["X-Backoffice-Signature"]
    expected = hmac.new(endpoint["secret"].encode(), f"{timestamp}.".encode() + request["body"], hashlib.sha256)
    assert signature == expected.hexdigest()
    assert WebhookDelivery.objects.get().status == "delivered"


def test_only_the_subscribed_event_types_are_pushed(api, endpoint, receiver, after_sale):
    changes.record_change(shop_id=after_sale.shop_id, event=changes.AFTER_SALE_CREATED, object_id=after_sale.pk)
    tasks.run_webhooks()
    assert receiver.received == []


def test_a_failed_delivery_is_retried_with_the_same_id_and_body(api, endpoint, receiver, after_sale):
    receiver.statuses = [500, 302]
    changes.record_change(shop_id=after_sale.shop_id, event=changes.AFTER_SALE_UPDATED, object_id=after_sale.pk)
    tasks.run_webhooks()
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status) == ("pending", 1, 500)
    assert delivery.next_attempt_at - delivery.last_attempt_at == timedelta(minutes=1)
    _due_now()
    tasks.run_webhooks()  # a redirect is not followed: it is a failure too
    delivery.refresh_from_db()
    assert (delivery.attempts, delivery.last_status) == (2, 302)
    assert delivery.next_attempt_at - delivery.last_attempt_at == timedelta(minutes=5)
    _due_now()
    tasks.run_webhooks()
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("delivered", 3)
    assert [r["path"] for r in receiver.received] == ["/hooks/backoffice"] * 3
    assert len({r["body"] for r in receiver.received}) == 1


def test_retries_go_on_for_more_than_24_hours_then_stop():
    assert sum(webhooks.RETRY_DELAYS, timedelta()) > timedelta(hours=24)


def test_an_endpoint_failing_for_3_days_is_disabled_and_keeps_its_changes(api, endpoint, receiver, after_sale):
    receiver.statuses = [500] * 5
    changes.record_change(shop_id=after_sale.shop_id, event=changes.AFTER_SALE_UPDATED, object_id=after_sale.pk)
    tasks.run_webhooks()
    WebhookEndpoint.objects.update(failing_since=timezone.now() - timedelta(days=3, minutes=1))
    _due_now()
    tasks.run_webhooks()
    endpoint_row = WebhookEndpoint.objects.get()
    assert (endpoint_row.active, endpoint_row.disabled_at is not None) == (False, True)
    # While disabled, changes are still recorded for it, and sent once it is enabled again.
    changes.record_change(shop_id=after_sale.shop_id, event=changes.AFTER_SALE_UPDATED, object_id=after_sale.pk)
    tasks.run_webhooks()
    assert WebhookDelivery.objects.filter(status="pending").count() == 2
    assert len(receiver.received) == 2
    receiver.statuses = []
    webhooks.enable_endpoint(shop=after_sale.shop, endpoint_id=endpoint_row.pk)
    _due_now()
    tasks.run_webhooks()
    assert WebhookDelivery.objects.filter(status="delivered").count() == 2


def test_a_delivery_can_be_sent_again(api, endpoint, receiver, after_sale):
    changes.record_change(shop_id=after_sale.shop_id, event=changes.AFTER_SALE_UPDATED, object_id=after_sale.pk)
    tasks.run_webhooks()
    delivery = WebhookDelivery.objects.get()
    webhooks.resend_delivery(shop=after_sale.shop, delivery_id=delivery.pk)
    tasks.run_webhooks()
    assert len(receiver.received) == 2
    assert receiver.received[0]["body"] == receiver.received[1]["body"]


def test_a_refund_is_pushed_as_refund_created(api, endpoint, receiver, after_sale):
    api.post("/orders/O-1001/lines/1/small-payments", {"amount": "5.00"})  # the ledger records the change
    tasks.run_webhooks()
    [body] = [json.loads(r["body"]) for r in receiver.received if json.loads(r["body"])["type"] == "refund.created"]
    assert body["data"]["refund"] | {"id": None, "at": None} == {
        "id": None, "order_no": "O-1001", "line_no": "1", "after_sale_no": None, "kind": "small_payment",
        "amount": "5.00", "actor": "merchant", "reason": "", "at": None,
    }  # fmt: skip


def test_changes_of_another_shop_are_not_pushed(api, endpoint, receiver, other_shop):
    from tests.aftersales.factories import make_after_sale
    from tests.shop.factories import make_order

    theirs = make_after_sale(make_order(other_shop, order_no="O-THEIRS"), after_sale_no="AS-THEIRS")
    changes.record_change(shop_id=other_shop.pk, event=changes.AFTER_SALE_UPDATED, object_id=theirs.pk)
    tasks.run_webhooks()
    assert receiver.received == []
