"""The HTTP carrier adapter against the carrier sandbox (and a few misbehaving servers) on loopback."""

import json
import socket
import threading
import time
from datetime import datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction

from aftersales.models import AfterSale, RefundEntry
from interception import services
from interception.gateway import CarrierError, LaunchResult, ParcelFacts, Precheck, get_gateway
from interception.gateway.http import HttpGateway
from interception.models import CarrierCallback, FeeCharge, ServiceOrder
from interception.sandbox import start_sandbox
from shop.signing import sign


def facts(tracking_no="YT1001", status="in_transit", service_order_id=42, courier="YTO") -> ParcelFacts:
    return ParcelFacts(service_order_id=service_order_id, courier=courier, tracking_no=tracking_no, status=status)


class Recorder(ThreadingHTTPServer):
    """A loopback server that answers from a script ([(status, body)], the last one repeats) and records requests."""

    daemon_threads = True

    def __init__(self, script: list[tuple[int, bytes | dict]]):
        super().__init__(("127.0.0.1", 0), _RecorderHandler)
        self.script = list(script)
        self.requests: list[tuple[str, dict]] = []
        self.thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def close(self):
        self.shutdown()
        self.thread.join(5)
        self.server_close()


class _RecorderHandler(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.requests.append((self.path, {**json.loads(raw), "_headers": dict(self.headers)}))
        status, body = self.server.script.pop(0) if len(self.server.script) > 1 else self.server.script[0]
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def sandbox():
    server, thread, base_url = start_sandbox(port=0, delay=0.05, callback_secret="test-carrier-secret")
    yield server
    server.stop(thread)


@pytest.fixture
def receiver():
    """Where the sandbox's callbacks land when no Django server is involved: answers 200 to everything."""
    server = Recorder([(200, {"result": "applied"})])
    yield server
    server.close()


@pytest.fixture
def recorder():
    servers = []

    def build(*script):
        servers.append(Recorder(list(script)))
        return servers[-1]

    yield build
    for server in servers:
        server.close()


def gateway(base_url, **kwargs) -> HttpGateway:
    kwargs.setdefault("callback_url", "http://127.0.0.1:9/nowhere")
    kwargs.setdefault("timeout", 2.0)
    kwargs.setdefault("retries", 2)
    kwargs.setdefault("backoff", 0.01)
    return HttpGateway(base_url=base_url, **kwargs)


def wait_for(condition, seconds=10.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


# --- pre-check -------------------------------------------------------------------------------------
def test_precheck_passes_a_parcel_in_transit(sandbox):
    assert gateway(sandbox.base_url).precheck(facts()) == Precheck(True, "")


def test_precheck_refuses_a_signed_parcel_with_the_reason(sandbox):
    assert gateway(sandbox.base_url).precheck(facts(status="signed")) == Precheck(False, "already signed")
    assert gateway(sandbox.base_url).precheck(facts(tracking_no="YT-SIGNED-1")) == Precheck(False, "already signed")


def test_precheck_warns_about_a_parcel_out_for_delivery(sandbox):
    check = gateway(sandbox.base_url).precheck(facts(status="out_for_delivery"))

    assert check == Precheck(True, "out for delivery: the interception may fail")


def test_precheck_of_an_unreachable_carrier_warns_once_and_stops_asking(recorder):
    server = recorder((503, {}))
    adapter = gateway(server.url)

    first = adapter.precheck(facts())
    second = adapter.precheck(facts(tracking_no="YT1002"))

    assert first == second == Precheck(True, "the carrier did not answer the pre-check; the launch will tell")
    assert len(server.requests) == 1  # no retry for an advisory pre-check, and no more for this preview


# --- launch ----------------------------------------------------------------------------------------
def test_launch_is_accepted_for_processing_and_sends_our_idempotency_key_and_callback_url(recorder):
    server = recorder((202, {"carrier_ref": "CR-7", "status": "processing"}))

    result = gateway(server.url, callback_url="http://127.0.0.1:8123/api/carrier/callback").launch(facts())

    assert result == LaunchResult("processing", "", "CR-7", None)
    path, body = server.requests[0]
    assert path == "/v1/interceptions"
    assert {key: value for key, value in body.items() if key != "_headers"} == {
        "request_id": "SO00000042",
        "courier": "YTO",
        "tracking_no": "YT1001",
        "parcel_status": "in_transit",
        "callback_url": "http://127.0.0.1:8123/api/carrier/callback",
    }
    assert body["_headers"]["Content-Type"] == "application/json"


def test_the_sandbox_accepts_a_launch_and_reports_success_by_signed_callback(sandbox, receiver):
    result = gateway(sandbox.base_url, callback_url=receiver.url + "/cb").launch(facts())

    assert result == LaunchResult("processing", "", "SBX00000001", None)
    assert wait_for(lambda: receiver.requests)
    path, body = receiver.requests[0]
    headers = body.pop("_headers")
    assert path == "/cb"
    assert body["callback_id"] == "CB-SBX00000001-1"
    assert (body["request_id"], body["status"], body["reason"], body["carrier_ref"]) == (
        "SO00000042",
        "succeeded",
        "",
        "SBX00000001",
    )
    assert datetime.fromisoformat(body["occurred_at"]).tzinfo is not None
    raw = json.dumps(body, ensure_ascii=False).encode()
    assert headers["X-Carrier-Signature"] == sign(raw, headers["X-Carrier-Timestamp"], "test-carrier-secret")


def test_launching_twice_with_the_same_request_id_starts_one_interception_with_one_callback(sandbox, receiver):
    adapter = gateway(sandbox.base_url, callback_url=receiver.url + "/cb")

    first = adapter.launch(facts())
    second = adapter.launch(facts())

    assert first == second == LaunchResult("processing", "", "SBX00000001", None)
    assert sandbox.launches["SO00000042"] == 2
    assert list(sandbox.interceptions) == ["SO00000042"]
    assert wait_for(lambda: receiver.requests)
    time.sleep(0.3)  # time enough for a second callback, were there one
    assert [body["callback_id"] for _path, body in receiver.requests] == ["CB-SBX00000001-1"]


def test_a_request_id_reused_for_another_parcel_is_a_failed_launch_with_the_carriers_reason(sandbox):
    adapter = gateway(sandbox.base_url)
    adapter.launch(facts(tracking_no="YT1001"))

    result = adapter.launch(facts(tracking_no="YT9999"))

    assert (result.status, result.reason) == ("failed", "request_id was already used for another parcel")


def test_a_signed_parcel_is_refused_at_once_with_the_reason(sandbox):
    result = gateway(sandbox.base_url).launch(facts(tracking_no="YT-SIGNED-7"))

    assert (result.status, result.reason, result.carrier_ref) == ("failed", "already signed", "SBX00000001")
    assert result.occurred_at is not None and result.occurred_at.tzinfo is not None
    assert sandbox.pending_callbacks() == 0


def test_the_sandbox_reports_the_whole_return_when_the_parcel_is_lost(sandbox, receiver):
    gateway(sandbox.base_url, callback_url=receiver.url + "/cb").launch(facts(tracking_no="YT-LOST-1"))

    assert wait_for(lambda: len(receiver.requests) == 3)
    assert [body["status"] for _path, body in receiver.requests] == ["succeeded", "returning", "lost"]
    times = [datetime.fromisoformat(body["occurred_at"]) for _path, body in receiver.requests]
    assert times == sorted(times)


def test_the_sandbox_fail_rate_is_deterministic_per_request_id(receiver):
    server, thread, _url = start_sandbox(port=0, delay=0.01, fail_rate=1.0, callback_secret="s")
    try:
        gateway(server.base_url, callback_url=receiver.url + "/cb").launch(facts())
        assert wait_for(lambda: receiver.requests)
    finally:
        server.stop(thread)

    assert [(body["status"], body["reason"]) for _p, body in receiver.requests] == [
        ("failed", "the courier could not stop the parcel")
    ]


def test_a_4xx_answer_is_a_failed_result_with_the_carriers_reason_and_no_retry(recorder):
    server = recorder((422, {"reason": "courier not supported"}))

    result = gateway(server.url).launch(facts())

    assert (result.status, result.reason) == ("failed", "courier not supported")
    assert len(server.requests) == 1


def test_a_4xx_without_a_reason_says_which_status(recorder):
    server = recorder((422, b"<html>unprocessable</html>"))

    result = gateway(server.url).launch(facts())

    assert (result.status, result.reason) == ("failed", "the carrier refused the request (HTTP 422)")


def test_5xx_answers_are_retried_with_backoff_then_raise_carrier_error(recorder):
    server = recorder((503, {"reason": "maintenance"}))
    pauses = []

    with pytest.raises(CarrierError, match=r"HTTP 503 \(after 3 attempt\(s\)\)"):
        gateway(server.url, retries=2, backoff=0.5, sleep=pauses.append).launch(facts())

    assert len(server.requests) == 3
    assert pauses == [0.5, 1.0]


def test_a_5xx_then_an_answer_recovers_within_the_same_call(recorder):
    server = recorder((500, {}), (429, {}), (202, {"carrier_ref": "CR-9", "status": "processing"}))

    result = gateway(server.url, retries=2).launch(facts())

    assert result == LaunchResult("processing", "", "CR-9", None)
    assert len(server.requests) == 3
    assert {body["request_id"] for _path, body in server.requests} == {"SO00000042"}


def test_a_carrier_that_never_answers_times_out_and_raises_carrier_error_after_the_retries():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    accepted = []

    def accept_and_say_nothing():
        while True:
            try:
                connection, _address = listener.accept()
            except OSError:
                return
            accepted.append(connection)

    thread = threading.Thread(target=accept_and_say_nothing, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    started = time.monotonic()
    try:
        with pytest.raises(CarrierError, match="TimeoutError"):
            gateway(url, timeout=0.2, retries=2, backoff=0.0).launch(facts())
    finally:
        listener.close()
        for connection in accepted:
            connection.close()

    assert len(accepted) == 3
    assert 0.6 <= time.monotonic() - started < 3.0


def test_a_refused_connection_raises_carrier_error_after_the_retries():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again at once: nothing listens there

    with pytest.raises(CarrierError, match="ConnectionRefusedError"):
        gateway(f"http://127.0.0.1:{port}", retries=1, backoff=0.0).launch(facts())


@pytest.mark.parametrize(
    "answer",
    [
        (200, b"not json"),
        (202, {"status": "processing"}),  # no carrier_ref
        (200, {"status": "exploded"}),
        (302, {}),
        (202, {"status": "processing", "carrier_ref": "x" * 65}),
    ],
)
def test_an_answer_that_is_not_the_api_raises_carrier_error(recorder, answer):
    server = recorder(answer)

    with pytest.raises(CarrierError):
        gateway(server.url).launch(facts())


def test_a_launch_without_a_service_order_id_is_a_programming_error(sandbox):
    with pytest.raises(ValueError):
        gateway(sandbox.base_url).launch(facts(service_order_id=None))


def test_settings_choose_the_http_gateway_and_its_urls(settings):
    settings.CARRIER_GATEWAY = "http"
    settings.CARRIER_API_URL = "http://127.0.0.1:8091/"
    settings.CARRIER_CALLBACK_URL = "http://127.0.0.1:8001/api/carrier/callback"

    adapter = get_gateway()

    assert isinstance(adapter, HttpGateway)
    assert (adapter.base_url, adapter.callback_url) == ("http://127.0.0.1:8091", settings.CARRIER_CALLBACK_URL)
    assert (adapter.timeout, adapter.retries) == (settings.CARRIER_HTTP_TIMEOUT, settings.CARRIER_HTTP_RETRIES)


# --- end to end: the app launches over HTTP, the sandbox calls back into a live server ----------------
def test_an_interception_over_http_succeeds_by_the_sandboxs_callback_into_the_live_server(
    live_server, settings, refund_only_in_transit, shop, merchant
):
    server, thread, base_url = start_sandbox(port=0, delay=0.2)
    settings.CARRIER_GATEWAY = "http"
    settings.CARRIER_API_URL = base_url
    settings.CARRIER_CALLBACK_URL = live_server.url + "/api/carrier/callback"
    with transaction.atomic():  # a transactional test: the fixture's service expects its caller's transaction
        after_sale = refund_only_in_transit()
    try:
        # Committed at once (a transactional test): the task runs in-process right after commit.
        services.launch_interceptions(shop=shop, user=merchant, after_sale_ids=[after_sale.pk], via="detail")
        service_order = ServiceOrder.objects.get()
        assert (service_order.status, service_order.carrier_ref) == ("processing", "SBX00000001")

        # Wait for the live server's answer to the callback before reading: on SQLite the test database
        # is shared in memory, and a read here while the server writes would lock it out ("table is locked").
        assert wait_for(lambda: any(d.http_status for d in server.deliveries), seconds=10)
        assert wait_for(lambda: ServiceOrder.objects.get().status == "succeeded", seconds=10)
    finally:
        server.stop(thread)

    assert [(d.callback_id, d.http_status) for d in server.deliveries] == [("CB-SBX00000001-1", 200)]
    assert sorted(server.launches.items()) == [(f"SO{service_order.pk:08d}", 1)]
    assert FeeCharge.objects.get().amount == Decimal("3.00")
    assert RefundEntry.objects.get().amount == Decimal("129.00")
    assert AfterSale.objects.get().status == "refunded"
    assert CarrierCallback.objects.get().applied is True


@pytest.mark.parametrize(("option", "value"), [("fail_rate", 1.5), ("delay", -1.0)])
def test_the_sandbox_command_refuses_nonsense_options(option, value):
    with pytest.raises(CommandError):
        call_command("carrier_sandbox", port=0, **{option: value})
