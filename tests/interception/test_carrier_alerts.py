"""A carrier answering 401, 403 or 404 (our key or URL): the orders wait, operators are alerted in the admin,
calls to that courier pause, and they resume once the configuration is fixed."""

import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.urls import reverse
from django.utils import timezone

from interception import services, tasks
from interception.gateway import CarrierConfigurationError, ParcelFacts
from interception.gateway.http import HttpGateway
from interception.models import CarrierAlert, FeeCharge, ServiceOrder, ServiceOrderLog
from interception.services import alerts
from shop.errors import DomainError
from tests.interception.factories import make_refund_only_in_transit
from tests.shop.factories import make_operator

LATER = timedelta(minutes=3)  # past WAITING_RECHECK, well within the courier's result timeout


class Carrier(ThreadingHTTPServer):
    """A carrier on 127.0.0.1 that refuses us with `refusing` (401/403/404) until it is set to None, then
    accepts every launch and knows none of them by status query. Records each request path."""

    daemon_threads = True

    def __init__(self, refusing: int | None):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.refusing = refusing
        self.requests: list[tuple[str, dict]] = []
        self.thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def paths(self) -> list[str]:
        return [path for path, _body in self.requests]


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802
        payload = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        self.server.requests.append((self.path, payload))
        if self.server.refusing:
            status, body = self.server.refusing, {"reason": "invalid api key"}
        elif self.path == "/v1/interceptions":
            status, body = 202, {"carrier_ref": f"CR-{payload['request_id']}", "status": "processing"}
        elif self.path == "/v1/interceptions/status":
            status, body = 200, {"request_id": payload["request_id"], "carrier_ref": "", "status": "unknown"}
        else:
            status, body = 200, {"ok": True, "reason": ""}
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def carrier(settings):
    servers = []

    def start(refusing: int | None) -> Carrier:
        server = Carrier(refusing)
        servers.append(server)
        settings.CARRIER_GATEWAY, settings.CARRIER_API_URL = "http", server.url
        settings.CARRIER_HTTP_RETRIES = 0
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.thread.join(5)
        server.server_close()


@pytest.fixture
def launched(shop, merchant, yto_outlet, monkeypatch):
    """Launch interceptions whose carrier task the test runs itself, as a worker would."""
    monkeypatch.setattr("interception.services.launch.async_task", lambda *args, **kwargs: None)

    def launch(*order_nos: str) -> list[ServiceOrder]:
        ids = [make_refund_only_in_transit(shop, yto_outlet, order_no=no).pk for no in order_nos]
        created, _skipped = services.launch_interceptions(shop=shop, user=merchant, after_sale_ids=ids, via="bulk")
        return created

    return launch


def refresh(service_orders) -> list[tuple[str, str, str]]:
    return [
        (so.status, so.failure_reason, so.waiting_reason)
        for so in ServiceOrder.objects.filter(pk__in=[s.pk for s in service_orders]).order_by("pk")
    ]


@pytest.mark.parametrize("http_status", [401, 403, 404])
def test_the_http_gateway_raises_a_configuration_error_on_401_403_and_404_without_retrying(carrier, http_status):
    server = carrier(http_status)
    gateway = HttpGateway(base_url=server.url, retries=3, sleep=lambda seconds: None)
    facts = ParcelFacts(service_order_id=7, courier="YTO", tracking_no="YT1", status="in_transit")

    with pytest.raises(CarrierConfigurationError) as raised:
        gateway.launch(facts)

    assert raised.value.http_status == http_status
    assert "invalid api key" in str(raised.value)
    assert server.paths() == ["/v1/interceptions"]  # one attempt: asking again would not fix our key
    with pytest.raises(CarrierConfigurationError):
        gateway.status(facts)
    # The pre-check is advisory: a refusal of our key is a warning, not a reason to block the parcel.
    assert gateway.precheck(facts).ok is True


@pytest.mark.parametrize("http_status", [401, 403, 404])
def test_a_carrier_refusing_our_configuration_keeps_the_orders_waiting_and_alerts_the_operators(
    carrier, launched, yto, http_status
):
    server = carrier(http_status)
    first, second = launched("O-1", "O-2")

    assert tasks.run_service_orders([first.pk]) == {"paused": 1}

    waiting = f"waiting: the carrier refused our configuration (HTTP {http_status}); an operator has been alerted"
    assert refresh([first]) == [("processing", "", waiting)]
    alert = CarrierAlert.objects.get()
    assert (alert.courier, alert.status, alert.http_status, alert.occurrences) == (yto, "open", http_status, 1)
    assert not ServiceOrderLog.objects.filter(to_status="failed").exists()
    assert FeeCharge.objects.count() == 0
    # The circuit: while the alert is open, the courier is not called again.
    assert tasks.run_service_orders([second.pk]) == {"paused": 1}
    assert server.paths() == ["/v1/interceptions"]
    assert refresh([second]) == [
        ("submitted", "", "waiting: calls to this courier are paused by an open carrier alert")
    ]


def test_an_open_carrier_alert_is_shown_on_the_admin_index_and_closing_it_resumes_the_waiting_orders(
    carrier, launched, client
):
    server = carrier(401)
    (service_order,) = launched("O-1")
    tasks.run_service_orders([service_order.pk])
    alert = CarrierAlert.objects.get()
    client.force_login(make_operator("operator"))

    page = client.get(reverse("admin:index")).content.decode()
    assert 'id="carrier-alerts"' in page
    assert "carrier refuses our configuration (HTTP 401)" in page

    server.refusing = None  # the operator fixes the key
    response = client.post(
        reverse("admin:interception_carrieralert_changelist"),
        {"action": "close_carrier_alerts", "_selected_action": [alert.pk]},
    )
    assert response.status_code == 302
    alert.refresh_from_db()
    assert (alert.status, alert.closed_by.username, alert.close_note) == (
        "closed",
        "operator",
        "Closed by a platform operator.",
    )
    assert 'id="carrier-alerts"' not in client.get(reverse("admin:index")).content.decode()

    outcomes = services.sweep_stuck_service_orders(now=timezone.now() + LATER)

    assert outcomes == {"relaunched": 1}
    service_order.refresh_from_db()
    assert (service_order.status, service_order.carrier_ref, service_order.waiting_reason) == (
        "processing",
        f"CR-SO{service_order.pk:08d}",
        "",
    )


def test_the_sweep_asks_a_paused_carrier_once_a_run_and_resumes_when_it_answers(carrier, launched):
    server = carrier(403)
    orders = launched("O-1", "O-2", "O-3")
    tasks.run_service_orders([orders[0].pk])
    tasks.run_service_orders([so.pk for so in orders[1:]])
    assert server.paths() == ["/v1/interceptions"]

    outcomes = services.sweep_stuck_service_orders(now=timezone.now() + LATER)

    # Still refused: one status query, nothing else; the alert counts it, every order still waits.
    assert outcomes == {"paused": 3, "relaunched": 0}
    assert server.paths() == ["/v1/interceptions", "/v1/interceptions/status"]
    assert CarrierAlert.objects.get().occurrences == 2
    assert [status for status, _failure, _waiting in refresh(orders)] == ["processing", "submitted", "submitted"]

    server.refusing = None  # fixed: the next run's status query is answered
    outcomes = services.sweep_stuck_service_orders(now=timezone.now() + 2 * LATER)

    assert outcomes == {"unknown to the carrier": 1, "relaunched": 3}
    alert = CarrierAlert.objects.get()
    assert (alert.status, alert.closed_by, alert.close_note) == ("closed", None, "The carrier answered again.")
    assert refresh(orders) == [("processing", "", "")] * 3
    assert ServiceOrder.objects.filter(pk__in=[so.pk for so in orders], carrier_ref__startswith="CR-").count() == 3


def test_a_second_refusal_counts_on_the_open_alert_and_a_closed_alert_cannot_be_closed_again(yto):
    error = CarrierConfigurationError("HTTP 401: invalid api key", http_status=401)
    first = alerts.open_carrier_alert(courier_id=yto.pk, error=error, at=timezone.now())
    again = alerts.open_carrier_alert(courier_id=yto.pk, error=error, at=timezone.now())

    assert (again.pk, again.occurrences, CarrierAlert.objects.count()) == (first.pk, 2, 1)
    services.close_carrier_alert(alert_id=first.pk, note="fixed", at=timezone.now())
    with pytest.raises(DomainError):
        services.close_carrier_alert(alert_id=first.pk, note="fixed", at=timezone.now())
    assert alerts.paused_courier_ids() == set()
