"""A slow (10 s) or garbage-answering carrier holds no row lock and no web worker.

The HTTP carrier gateway is pointed at a test server on 127.0.0.1 that sleeps or answers garbage. The
merchant's launch returns at once (the carrier is called by a task, after commit); while that task waits
on the carrier, another connection can lock the after-sale, its order line and order, the parcel and
the service order with NOWAIT; and a garbage answer ends in a clear failure reason or a later retry,
never an exception or a half-applied result.
"""

import threading
import time
import uuid
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.module_loading import import_string
from django_q.models import OrmQ, Schedule
from django_q.signing import SignedPackage

from aftersales import services as aftersales_services
from aftersales.models import AfterSale, RefundEntry
from interception import services
from interception.models import FeeCharge, ServiceOrder
from shop.models import Order, OrderLine, Parcel
from tests.faults.conftest import point_django_q_at
from tests.shop.factories import at, make_order, make_parcel

pytestmark = pytest.mark.faults

TIMEOUT = 1.5  # CARRIER_HTTP_TIMEOUT for these tests: the slow carrier would take 10 s


class Carrier(ThreadingHTTPServer):
    """A carrier on loopback that answers every POST with `answer(handler)`; `called` is set on a request."""

    daemon_threads = True

    def __init__(self, answer):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.answer = answer
        self.called = threading.Event()
        self.release = threading.Event()  # ends a slow answer early at teardown
        self.requests: list[str] = []
        self.thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def close(self):
        self.release.set()
        self.shutdown()
        self.thread.join(5)
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.requests.append(self.path)
        self.server.called.set()
        try:
            self.server.answer(self)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (its timeout): that is the point

    def log_message(self, *args):
        pass


def reply(status: int, body: bytes, *, content_type="application/json", length: int | None = None):
    def answer(handler):
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body) if length is None else length))
        handler.end_headers()
        handler.wfile.write(body)

    return answer


def slow(seconds: float = 10.0):
    def answer(handler):
        handler.server.release.wait(seconds)
        reply(202, b'{"carrier_ref": "LATE-1", "status": "processing"}')(handler)

    return answer


@pytest.fixture
def carrier(settings):
    """carrier(answer) starts the server and points the HTTP gateway at it, with a short timeout."""
    servers = []

    def start(answer) -> Carrier:
        server = Carrier(answer)
        servers.append(server)
        settings.CARRIER_GATEWAY = "http"
        settings.CARRIER_API_URL = server.url
        settings.CARRIER_HTTP_TIMEOUT = TIMEOUT
        settings.CARRIER_HTTP_RETRIES = 0
        return server

    yield start
    for server in servers:
        server.close()


def refund_only_in_transit(shop, outlet, order_no: str) -> AfterSale:
    order = make_order(shop, order_no=order_no, status=Order.Status.SHIPPED, lines=[{"paid_amount": "129.00"}])
    make_parcel(order, outlet=outlet, tracking_no=f"YT{order_no}", status=Parcel.Status.IN_TRANSIT)
    return aftersales_services.apply_for_after_sale(
        after_sale_no=f"AS-{order_no}",
        order_no=order_no,
        line_no="1",
        type="refund_only",
        reason="not_received",
        amount=Decimal("129.00"),
        note="",
        at=at("2026-11-22 10:00"),
    )


def nothing_applied(after_sale: AfterSale) -> None:
    after_sale.refresh_from_db()
    assert after_sale.status in AfterSale.OPEN_STATUSES
    assert after_sale.refunded_amount == Decimal("0.00")
    assert OrderLine.objects.get(pk=after_sale.line_id).refunded_amount == Decimal("0.00")
    assert not RefundEntry.objects.filter(after_sale=after_sale).exists()
    assert not FeeCharge.objects.filter(service_order__after_sale=after_sale).exists()
    assert Parcel.objects.get(pk=after_sale.parcel_id).status == Parcel.Status.IN_TRANSIT


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks (FOR UPDATE NOWAIT) need PostgreSQL")
def test_a_carrier_taking_10_s_holds_no_row_lock_and_no_web_worker(client, shop, merchant, yto_outlet, carrier):
    server = carrier(slow(10))
    after_sale = refund_only_in_transit(shop, yto_outlet, "O-SLOW")
    client.force_login(merchant)
    queue = f"faults-slow-{uuid.uuid4().hex[:8]}"

    with point_django_q_at(queue, None):  # queued for a worker, as in production, not run in the request
        started = time.monotonic()
        response = client.post(reverse("interception:launch"), {"via": "detail", "after_sale": [after_sale.pk]})
        elapsed = time.monotonic() - started
        (queued,) = OrmQ.objects.filter(key=queue)
        task = SignedPackage.loads(queued.payload)  # signed with the queue's name

    # (a) The launch answered at once and did not call the carrier: the call is the queued task's.
    assert response.status_code == 302
    assert elapsed < TIMEOUT, f"the launch took {elapsed:.2f} s"
    assert server.requests == []
    service_order = ServiceOrder.objects.get(after_sale=after_sale)
    assert service_order.status == ServiceOrder.Status.SUBMITTED
    assert task["func"] == "interception.tasks.run_service_orders"

    # The worker runs the task (here in a thread, with a database connection of its own).
    outcome: dict = {}

    def worker():
        try:
            started = time.monotonic()
            outcome["result"] = import_string(task["func"])(*task["args"], **task["kwargs"])
            outcome["seconds"] = time.monotonic() - started
        except BaseException as exc:  # asserted below
            outcome["error"] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=worker)
    thread.start()
    try:
        assert server.called.wait(10), "the task never called the carrier"
        # (b) While the task waits on the carrier, every row it works on can be locked at once by another
        # connection: the carrier call holds no lock (NOWAIT raises if one is held).
        with transaction.atomic():
            Order.objects.select_for_update(nowait=True).get(pk=after_sale.order_id)
            OrderLine.objects.select_for_update(nowait=True).get(pk=after_sale.line_id)
            AfterSale.objects.select_for_update(nowait=True).get(pk=after_sale.pk)
            Parcel.objects.select_for_update(nowait=True).get(pk=after_sale.parcel_id)
            locked = ServiceOrder.objects.select_for_update(nowait=True).get(pk=service_order.pk)
            assert locked.status == ServiceOrder.Status.PROCESSING  # the task is under way
        # And the merchant's pages still answer meanwhile.
        page = client.get(reverse("interception:service-orders"))
        assert page.status_code == 200
    finally:
        thread.join(15)
        server.release.set()
    assert not thread.is_alive()

    # The task gave up at the gateway's timeout (not 10 s), and calls again later: nothing applied.
    assert "error" not in outcome, outcome
    assert outcome["result"] == {"retry": 1}
    assert outcome["seconds"] < TIMEOUT + 2
    service_order.refresh_from_db()
    assert (service_order.status, service_order.attempts, service_order.carrier_ref) == ("processing", 1, "")
    assert Schedule.objects.filter(
        func="interception.tasks.run_service_orders", args=f"([{service_order.pk}],)"
    ).exists()
    nothing_applied(after_sale)


@pytest.mark.django_db
def test_a_preview_waits_for_a_slow_carrier_one_timeout_at_most(client, shop, merchant, yto_outlet, carrier):
    """The preview's pre-check is the one carrier call of a web request: advisory, one attempt, and after the
    first that does not answer the rest of the page does not ask."""
    carrier(slow(10))
    ids = [refund_only_in_transit(shop, yto_outlet, f"O-PRE-{i}").pk for i in range(3)]
    client.force_login(merchant)

    started = time.monotonic()
    response = client.post(reverse("interception:bulk-preview"), {"ids": ids})
    elapsed = time.monotonic() - started

    assert response.status_code == 200
    assert TIMEOUT - 0.2 < elapsed < TIMEOUT + 1.5, f"the preview took {elapsed:.2f} s"
    warnings = [c.warning for group in response.context["groups"] for c in group["items"]]
    assert warnings == ["the carrier did not answer the pre-check; the launch will tell"] * 3
    assert not ServiceOrder.objects.exists()


HUGE = b'{"status": "processing", "carrier_ref": "' + b"x" * 3_000_000 + b'"}'

GARBAGE = {
    "plain text": reply(200, b"OK", content_type="text/plain"),
    "an HTML error page": reply(
        200, b"<html><body><h1>Service Unavailable</h1></body></html>", content_type="text/html"
    ),
    "truncated JSON": reply(202, b'{"carrier_ref": "SBX-1", "sta', length=400),
    "a huge body": reply(202, HUGE),
    "a JSON list": reply(200, b'["processing"]'),
    "an unknown status": reply(200, b'{"status": "maybe", "carrier_ref": "SBX-1"}'),
    "processing without a carrier_ref": reply(202, b'{"status": "processing"}'),
    "a carrier_ref of another type": reply(202, b'{"status": "processing", "carrier_ref": {"id": 1}}'),
    "a 502 HTML page": reply(502, b"<html>Bad Gateway</html>", content_type="text/html"),
    "an empty 200": reply(200, b""),
}


@pytest.mark.django_db
@pytest.mark.parametrize("answer", GARBAGE.values(), ids=GARBAGE.keys())
def test_a_garbage_answer_to_a_launch_is_called_again_later_with_nothing_applied(
    shop, merchant, yto_outlet, carrier, answer
):
    carrier(answer)
    after_sale = refund_only_in_transit(shop, yto_outlet, "O-GARBAGE")
    (service_order,), _skipped = services.launch_interceptions(
        shop=shop, user=merchant, after_sale_ids=[after_sale.pk], via="detail", enqueue=False
    )

    assert services.run_service_orders([service_order.pk]) == {"retry": 1}

    service_order.refresh_from_db()
    assert (service_order.status, service_order.carrier_ref, service_order.result_at) == ("processing", "", None)
    assert Schedule.objects.filter(
        func="interception.tasks.run_service_orders", args=f"([{service_order.pk}],)"
    ).exists()
    nothing_applied(after_sale)


REFUSALS = {
    "an HTML 400 page": (reply(400, b"<html><h1>400 Bad Request</h1></html>", content_type="text/html"), "HTTP 400"),
    "a 422 with a reason of another type": (reply(422, b'{"reason": ["no"]}'), "HTTP 422"),
    "a 409 with a 5 000-character reason": (reply(409, b'{"reason": "' + b"r" * 5000 + b'"}'), "r" * 200),
}


@pytest.mark.django_db
@pytest.mark.parametrize(("answer", "reason"), REFUSALS.values(), ids=REFUSALS.keys())
def test_a_garbled_refusal_fails_the_interception_with_a_clear_reason(
    shop, merchant, yto_outlet, carrier, answer, reason
):
    carrier(answer)
    after_sale = refund_only_in_transit(shop, yto_outlet, "O-REFUSED")
    (service_order,), _skipped = services.launch_interceptions(
        shop=shop, user=merchant, after_sale_ids=[after_sale.pk], via="detail", enqueue=False
    )

    assert services.run_service_orders([service_order.pk]) == {"failed": 1}

    service_order.refresh_from_db()
    assert service_order.status == ServiceOrder.Status.FAILED
    assert reason in service_order.failure_reason
    assert len(service_order.failure_reason) <= 200
    nothing_applied(after_sale)


ODD_BUT_CLEAR = {
    # A result whose time cannot be stored, or would freeze the service order (nothing later is newer),
    # is taken at our own clock; the result itself is clear.
    "a failure dated in year 1": (
        b'{"status": "failed", "reason": "already signed", "occurred_at": "0001-01-01T00:00:00+14:00"}',
        "failed",
    ),
    "a failure dated 2999": (
        b'{"status": "failed", "reason": "already signed", "occurred_at": "2999-01-01T00:00:00+08:00"}',
        "failed",
    ),
    "a success dated 2999": (
        b'{"status": "succeeded", "carrier_ref": "SBX-9", "occurred_at": "2999-01-01T00:00:00+08:00"}',
        "succeeded",
    ),
    "a success dated 9999-12-31 -14:00": (
        b'{"status": "succeeded", "carrier_ref": "SBX-9", "occurred_at": "9999-12-31T23:59:59-14:00"}',
        "succeeded",
    ),
    "a reason with a NUL": (b'{"status": "failed", "reason": "already\\u0000 signed"}', "failed"),
    "a carrier_ref with a NUL": (b'{"status": "processing", "carrier_ref": "SBX\\u00001"}', "processing"),
}


@pytest.mark.django_db
@pytest.mark.parametrize(("body", "outcome"), ODD_BUT_CLEAR.values(), ids=ODD_BUT_CLEAR.keys())
def test_an_odd_but_clear_answer_is_applied_at_a_sane_time_and_text(shop, merchant, yto_outlet, carrier, body, outcome):
    carrier(reply(200, body))
    after_sale = refund_only_in_transit(shop, yto_outlet, "O-ODD")
    (service_order,), _skipped = services.launch_interceptions(
        shop=shop, user=merchant, after_sale_ids=[after_sale.pk], via="detail", enqueue=False
    )
    before = timezone.now()

    assert services.run_service_orders([service_order.pk]) == {outcome: 1}

    service_order.refresh_from_db()
    assert service_order.status == outcome
    assert "\x00" not in service_order.failure_reason + service_order.carrier_ref
    if outcome != "processing":
        assert before <= service_order.result_at <= timezone.now()
