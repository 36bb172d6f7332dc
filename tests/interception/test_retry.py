"""A worker killed in the middle: the task or the callback runs again, and nothing is charged or refunded twice."""

import json
import time
from decimal import Decimal

import pytest
from django.conf import settings
from django.db import transaction
from django.test import Client

from aftersales import services as aftersales_services
from aftersales.models import AfterSale, RefundEntry
from interception import services, tasks
from interception.gateway.http import HttpGateway
from interception.gateway.simulated import SimulatedGateway
from interception.models import CarrierCallback, FeeCharge, ServiceOrder
from interception.sandbox import start_sandbox
from shop.models import Parcel
from shop.signing import sign


class WorkerKilled(BaseException):
    """What the worker process dying looks like from inside: not an Exception, nothing catches it."""


def kill_once(real, error=WorkerKilled):
    """Wrap `real` so that its first call dies before doing anything; later calls go through."""
    calls = []

    def wrapper(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise error("worker died")
        return real(*args, **kwargs)

    return wrapper


def die_after_once(real, error=WorkerKilled):
    """Wrap `real` so that its first call does all it does (and commits, if it is the outermost
    transaction) and then the worker dies; later calls go through."""
    calls = []

    def wrapper(*args, **kwargs):
        calls.append(1)
        result = real(*args, **kwargs)
        if len(calls) == 1:
            raise error("worker died")
        return result

    return wrapper


@pytest.fixture
def submitted(refund_only_in_transit, shop, merchant, monkeypatch):
    """A launched service order whose task has not run yet: the test runs it, as a worker would."""
    monkeypatch.setattr("interception.services.launch.async_task", lambda *args, **kwargs: None)
    after_sale = refund_only_in_transit()
    created, _skipped = services.launch_interceptions(
        shop=shop, user=merchant, after_sale_ids=[after_sale.pk], via="detail"
    )
    return created[0]


@pytest.fixture
def launches(monkeypatch):
    """Count the carrier calls of the simulated gateway."""
    calls = []
    real = SimulatedGateway.launch

    def counting(self, parcel):
        calls.append(parcel.service_order_id)
        return real(self, parcel)

    monkeypatch.setattr(SimulatedGateway, "launch", counting)
    return calls


def assert_charged_and_refunded_once(service_order):
    service_order.refresh_from_db()
    assert service_order.status == "succeeded"
    assert [fee.amount for fee in FeeCharge.objects.all()] == [Decimal("3.00")]
    assert [(refund.amount, refund.actor) for refund in RefundEntry.objects.all()] == [
        (Decimal("129.00"), "interception")
    ]
    after_sale = AfterSale.objects.get(pk=service_order.after_sale_id)
    assert (after_sale.status, after_sale.refunded_amount) == ("refunded", Decimal("129.00"))
    assert Parcel.objects.get(pk=service_order.parcel_id).status == "intercepted"


def test_a_worker_killed_after_the_carrier_answered_but_before_the_result_was_applied_is_retried_once(
    submitted, launches, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(services.carrier, "apply_result", kill_once(services.apply_result))

    with pytest.raises(WorkerKilled):
        tasks.run_service_order(submitted.pk)

    submitted.refresh_from_db()
    assert (submitted.status, submitted.attempts) == ("processing", 1)
    assert (FeeCharge.objects.count(), RefundEntry.objects.count()) == (0, 0)

    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.run_service_order(submitted.pk) == "succeeded"

    assert_charged_and_refunded_once(submitted)
    assert submitted.attempts == 2
    assert launches == [submitted.pk, submitted.pk]  # the carrier was asked again, with the same key


def test_a_worker_killed_in_the_middle_of_applying_the_result_leaves_nothing_half_done(
    submitted, launches, monkeypatch, django_capture_on_commit_callbacks
):
    # Dies after the fee row was written inside the result's transaction, before the refund.
    monkeypatch.setattr(
        aftersales_services, "refund_after_interception", kill_once(aftersales_services.refund_after_interception)
    )

    with pytest.raises(WorkerKilled):
        tasks.run_service_order(submitted.pk)

    submitted.refresh_from_db()
    assert (submitted.status, submitted.succeeded_at, submitted.result_at) == ("processing", None, None)
    assert (FeeCharge.objects.count(), RefundEntry.objects.count()) == (0, 0)
    assert Parcel.objects.get().status == "in_transit"

    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.run_service_order(submitted.pk) == "succeeded"

    assert_charged_and_refunded_once(submitted)


def test_a_worker_killed_after_the_result_was_committed_reruns_to_nothing(
    submitted, launches, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(services.carrier, "apply_result", die_after_once(services.apply_result))

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(WorkerKilled):
        tasks.run_service_order(submitted.pk)
    assert_charged_and_refunded_once(submitted)

    assert tasks.run_service_order(submitted.pk) == "nothing to do"

    assert_charged_and_refunded_once(submitted)
    assert launches == [submitted.pk]  # the carrier was not called again
    assert submitted.attempts == 1


def test_a_worker_killed_after_the_http_carrier_accepted_asks_again_with_the_same_key_and_starts_nothing_new(
    submitted, settings, monkeypatch
):
    server, thread, base_url = start_sandbox(port=0, delay=60)  # the callback is not the point here
    settings.CARRIER_GATEWAY = "http"
    settings.CARRIER_API_URL = base_url
    monkeypatch.setattr(HttpGateway, "launch", die_after_once(HttpGateway.launch))
    try:
        with pytest.raises(WorkerKilled):
            tasks.run_service_order(submitted.pk)
        submitted.refresh_from_db()
        assert (submitted.status, submitted.carrier_ref) == ("processing", "")

        assert tasks.run_service_order(submitted.pk) == "processing"
        assert tasks.run_service_order(submitted.pk) == "waiting for the carrier's callback"

        request_id = f"SO{submitted.pk:08d}"
        assert dict(server.launches) == {request_id: 2}
        assert list(server.interceptions) == [request_id]
        assert server.pending_callbacks() == 1
    finally:
        server.stop(thread)

    submitted.refresh_from_db()
    assert (submitted.status, submitted.carrier_ref, submitted.attempts) == ("processing", "SBX00000001", 2)
    assert (FeeCharge.objects.count(), RefundEntry.objects.count()) == (0, 0)


def _callback(service_order, callback_id="CB-1", status="succeeded") -> tuple[bytes, dict]:
    body = json.dumps(
        {
            "callback_id": callback_id,
            "request_id": f"SO{service_order.pk:08d}",
            "status": status,
            "reason": "",
            "occurred_at": "2026-11-22T11:00:00+08:00",
            "carrier_ref": "",
        }
    ).encode()
    ts = int(time.time())
    return body, {
        "X-Carrier-Timestamp": str(ts),
        "X-Carrier-Signature": sign(body, ts, settings.CARRIER_CALLBACK_SECRET),
    }


def test_a_callback_whose_application_crashed_is_not_remembered_and_applies_when_redelivered(
    submitted, monkeypatch, django_capture_on_commit_callbacks
):
    client = Client(raise_request_exception=False)
    # The view's transaction is the outermost: the result is applied, then the crash rolls it all back.
    monkeypatch.setattr(services, "apply_result", die_after_once(services.apply_result, error=RuntimeError))
    body, headers = _callback(submitted)

    crashed = client.post("/api/carrier/callback", data=body, content_type="application/json", headers=headers)

    assert crashed.status_code == 500
    assert (CarrierCallback.objects.count(), FeeCharge.objects.count(), RefundEntry.objects.count()) == (0, 0, 0)
    submitted.refresh_from_db()
    assert submitted.status == "submitted"

    with django_capture_on_commit_callbacks(execute=True):
        redelivered = client.post("/api/carrier/callback", data=body, content_type="application/json", headers=headers)
        replayed = client.post("/api/carrier/callback", data=body, content_type="application/json", headers=headers)

    assert [redelivered.json(), replayed.json()] == [{"result": "applied"}, {"result": "duplicate"}]
    assert_charged_and_refunded_once(submitted)
    assert list(CarrierCallback.objects.values_list("callback_id", "applied")) == [("CB-1", True)]


def test_the_sandbox_redelivers_a_callback_the_server_failed_and_the_result_is_applied_once(
    live_server, settings, refund_only_in_transit, shop, merchant, monkeypatch
):
    server, thread, base_url = start_sandbox(port=0, delay=0.05)
    settings.CARRIER_GATEWAY = "http"
    settings.CARRIER_API_URL = base_url
    settings.CARRIER_CALLBACK_URL = live_server.url + "/api/carrier/callback"
    # The first delivery reaches a server whose process dies while applying it (a 500 for the carrier).
    monkeypatch.setattr(services, "apply_result", kill_once(services.apply_result, error=RuntimeError))
    with transaction.atomic():  # a transactional test: the fixture's service expects its caller's transaction
        after_sale = refund_only_in_transit()
    try:
        services.launch_interceptions(shop=shop, user=merchant, after_sale_ids=[after_sale.pk], via="detail")
        # Read the database only once the callbacks are answered: on SQLite the test database is shared
        # in memory, and a read here while the live server writes would lock it out.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any(d.http_status == 200 for d in server.deliveries):
            time.sleep(0.05)
    finally:
        server.stop(thread)

    service_order = ServiceOrder.objects.get()
    assert [(d.callback_id, d.attempt, d.http_status) for d in server.deliveries] == [
        ("CB-SBX00000001-1", 1, 500),
        ("CB-SBX00000001-1", 2, 200),
    ]
    assert_charged_and_refunded_once(service_order)
    assert list(CarrierCallback.objects.values_list("callback_id", "applied")) == [("CB-SBX00000001-1", True)]
