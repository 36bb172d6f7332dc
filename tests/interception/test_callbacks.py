"""The carrier's signed result callback: authenticity, idempotency, ordering, and answers for bad input."""

import json
import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.db import connection, transaction

from aftersales.models import AfterSale, RefundEntry
from interception import callbacks, services
from interception.gateway import LaunchResult, Precheck
from interception.models import CarrierCallback, FeeCharge, ServiceOrder, ServiceOrderLog
from shop.models import Parcel
from shop.platform_events.payload import MAX_DEPTH
from shop.signing import sign

URL = "/api/carrier/callback"
STATUSES = "succeeded, failed, returning, returned, lost, damaged"


class ProcessingCarrier:
    """The network edge: a carrier that accepts every launch and answers later by callback."""

    def precheck(self, parcel):
        return Precheck(True)

    def launch(self, parcel):
        return LaunchResult("processing", "", f"CR-{parcel.service_order_id}")


@pytest.fixture
def processing(refund_only_in_transit, shop, merchant, monkeypatch, django_capture_on_commit_callbacks):
    """A service order the carrier accepted (processing, carrier_ref "CR-<id>"), waiting for the callback."""
    monkeypatch.setattr("interception.gateway.get_gateway", ProcessingCarrier)
    after_sale = refund_only_in_transit()
    with django_capture_on_commit_callbacks(execute=True):
        services.launch_interceptions(shop=shop, user=merchant, after_sale_ids=[after_sale.pk], via="detail")
    service_order = ServiceOrder.objects.get()
    assert (service_order.status, service_order.carrier_ref) == ("processing", f"CR-{service_order.pk}")
    return service_order


class Carrier:
    """Posts callbacks the way the carrier does: raw JSON body, timestamp and signature headers."""

    def __init__(self, client, capture):
        self.client = client
        self.capture = capture

    def post_raw(self, body: bytes, *, timestamp=None, signature=None, secret=None):
        ts = int(time.time()) if timestamp is None else timestamp
        sig = signature if signature is not None else sign(body, ts, secret or settings.CARRIER_CALLBACK_SECRET)
        with self.capture(execute=True):
            return self.client.post(
                URL,
                data=body,
                content_type="application/json",
                headers={"X-Carrier-Timestamp": str(ts), "X-Carrier-Signature": sig},
            )

    def send(
        self,
        service_order,
        status="succeeded",
        *,
        callback_id="CB-1",
        occurred_at="2026-11-22T11:00:00+08:00",
        reason="",
        **fields,
    ):
        body = {
            "callback_id": callback_id,
            "request_id": f"SO{service_order.pk:08d}",
            "status": status,
            "reason": reason,
            "occurred_at": occurred_at,
            "carrier_ref": service_order.carrier_ref,
            **fields,
        }
        return self.post_raw(json.dumps(body, ensure_ascii=False).encode())


@pytest.fixture
def carrier(client, django_capture_on_commit_callbacks) -> Carrier:
    return Carrier(client, django_capture_on_commit_callbacks)


def snapshot(service_order):
    """Everything a callback could change, to assert that a refused one changed nothing."""
    service_order.refresh_from_db()
    after_sale = AfterSale.objects.get(pk=service_order.after_sale_id)
    return {
        "status": service_order.status,
        "result_at": service_order.result_at,
        "failure_reason": service_order.failure_reason,
        "return_failure": service_order.return_failure,
        "logs": ServiceOrderLog.objects.filter(service_order=service_order).count(),
        "callbacks": list(CarrierCallback.objects.values_list("callback_id", "applied")),
        "fees": list(FeeCharge.objects.values_list("amount", flat=True)),
        "refunds": list(RefundEntry.objects.values_list("amount", flat=True)),
        "after_sale": (after_sale.status, after_sale.refunded_amount, after_sale.version),
        "parcel": Parcel.objects.get(pk=service_order.parcel_id).status,
    }


# --- applied --------------------------------------------------------------------------------------
def test_a_valid_callback_applies_success_charges_the_fee_once_and_refunds_the_buyer(processing, carrier):
    response = carrier.send(processing, "succeeded")

    assert (response.status_code, response.json()) == (200, {"result": "applied"})
    processing.refresh_from_db()
    assert processing.status == "succeeded"
    assert processing.result_at.isoformat() == "2026-11-22T03:00:00+00:00"
    assert [(fee.amount, fee.mode) for fee in FeeCharge.objects.all()] == [(Decimal("3.00"), "online")]
    assert [(r.amount, r.actor) for r in RefundEntry.objects.all()] == [(Decimal("129.00"), "interception")]
    after_sale = AfterSale.objects.get()
    assert (after_sale.status, after_sale.refunded_amount) == ("refunded", Decimal("129.00"))
    assert Parcel.objects.get().status == "intercepted"
    assert list(CarrierCallback.objects.values_list("callback_id", "status", "applied")) == [
        ("CB-1", "succeeded", True)
    ]


def test_a_failed_callback_fails_the_service_order_with_the_carriers_reason_and_charges_nothing(processing, carrier):
    response = carrier.send(processing, "failed", reason="out for delivery: the courier could not stop it")

    assert response.json() == {"result": "applied"}
    processing.refresh_from_db()
    assert (processing.status, processing.failure_reason) == (
        "failed",
        "out for delivery: the courier could not stop it",
    )
    assert FeeCharge.objects.count() == 0
    assert RefundEntry.objects.count() == 0
    assert AfterSale.objects.get().status != "refunded"


@pytest.mark.parametrize("loss", ["lost", "damaged"])
def test_lost_or_damaged_after_success_becomes_return_failed(processing, carrier, loss):
    carrier.send(processing, "succeeded", callback_id="CB-1", occurred_at="2026-11-22T11:00:00+08:00")
    carrier.send(processing, "returning", callback_id="CB-2", occurred_at="2026-11-22T15:00:00+08:00")

    response = carrier.send(processing, loss, callback_id="CB-3", occurred_at="2026-11-22T18:00:00+08:00")

    assert response.json() == {"result": "applied"}
    processing.refresh_from_db()
    assert (processing.status, processing.return_failure) == ("return_failed", loss)
    assert FeeCharge.objects.count() == 1
    assert RefundEntry.objects.count() == 1


def test_a_loss_reported_without_the_success_first_still_charges_and_refunds_once(processing, carrier):
    response = carrier.send(processing, "lost")

    assert response.json() == {"result": "applied"}
    processing.refresh_from_db()
    assert (processing.status, processing.return_failure) == ("return_failed", "lost")
    assert (FeeCharge.objects.count(), RefundEntry.objects.count()) == (1, 1)


# --- replays and ordering --------------------------------------------------------------------------
def test_a_replayed_callback_id_is_a_duplicate_and_changes_nothing(processing, carrier):
    carrier.send(processing, "succeeded", callback_id="CB-1")
    before = snapshot(processing)

    again = carrier.send(processing, "succeeded", callback_id="CB-1")
    altered = carrier.send(processing, "failed", callback_id="CB-1", occurred_at="2026-11-22T12:00:00+08:00")

    assert (again.status_code, again.json()) == (200, {"result": "duplicate"})
    assert (altered.status_code, altered.json()) == (200, {"result": "duplicate"})
    assert snapshot(processing) == before
    assert before["fees"] == [Decimal("3.00")] and before["refunds"] == [Decimal("129.00")]


def test_an_older_callback_after_a_newer_one_is_recorded_ignored_and_changes_nothing(processing, carrier):
    carrier.send(processing, "succeeded", callback_id="CB-1", occurred_at="2026-11-22T11:00:00+08:00")
    carrier.send(processing, "returned", callback_id="CB-3", occurred_at="2026-11-22T18:00:00+08:00")
    before = snapshot(processing)

    late = carrier.send(processing, "returning", callback_id="CB-2", occurred_at="2026-11-22T15:00:00+08:00")

    assert (late.status_code, late.json()) == (200, {"result": "ignored"})
    after = snapshot(processing)
    assert after.pop("callbacks") == [*before.pop("callbacks"), ("CB-2", False)]
    assert after == before
    assert after["status"] == "returned"


def test_a_late_failure_never_undoes_a_success(processing, carrier):
    carrier.send(processing, "succeeded", callback_id="CB-2", occurred_at="2026-11-22T11:00:00+08:00")
    before = snapshot(processing)

    late = carrier.send(
        processing, "failed", callback_id="CB-1", occurred_at="2026-11-22T10:59:00+08:00", reason="already signed"
    )

    assert late.json() == {"result": "ignored"}
    after = snapshot(processing)
    assert after.pop("callbacks") == [*before.pop("callbacks"), ("CB-1", False)]
    assert after == before


# --- refused ---------------------------------------------------------------------------------------
def test_a_bad_signature_is_refused_and_changes_nothing(processing, carrier):
    before = snapshot(processing)
    body = json.dumps(
        {
            "callback_id": "CB-1",
            "request_id": f"SO{processing.pk:08d}",
            "status": "succeeded",
            "occurred_at": "2026-11-22T11:00:00+08:00",
        }
    ).encode()

    wrong_secret = carrier.post_raw(body, secret="not-the-secret")
    garbled = carrier.post_raw(body, signature="签名")
    missing = carrier.client.post(URL, data=body, content_type="application/json")

    assert [r.status_code for r in (wrong_secret, garbled, missing)] == [401, 401, 401]
    assert wrong_secret.json() == {"error": "invalid signature"}
    assert missing.json() == {"error": "missing X-Carrier-Timestamp or X-Carrier-Signature"}
    assert snapshot(processing) == before


@pytest.mark.parametrize("skew", [-301, 301])
def test_a_timestamp_more_than_300_seconds_away_is_refused_even_when_correctly_signed(processing, carrier, skew):
    before = snapshot(processing)
    body = json.dumps(
        {
            "callback_id": "CB-1",
            "request_id": f"SO{processing.pk:08d}",
            "status": "succeeded",
            "occurred_at": "2026-11-22T11:00:00+08:00",
        }
    ).encode()

    response = carrier.post_raw(body, timestamp=int(time.time()) + skew)

    assert (response.status_code, response.json()) == (401, {"error": "timestamp is more than 300 s from now"})
    assert snapshot(processing) == before


def test_a_timestamp_that_is_not_unix_seconds_is_refused(processing, carrier):
    response = carrier.post_raw(b"{}", timestamp="2026-11-22T11:00:00")

    assert (response.status_code, response.json()) == (
        401,
        {"error": "X-Carrier-Timestamp must be Unix time in seconds"},
    )


def test_malformed_json_is_a_400_and_changes_nothing(processing, carrier):
    before = snapshot(processing)

    response = carrier.post_raw(b'{"callback_id": "CB-1", ')

    assert (response.status_code, response.json()) == (400, {"error": "malformed JSON", "field": ""})
    assert snapshot(processing) == before


@pytest.mark.parametrize(
    ("change", "field", "error"),
    [
        ({"callback_id": None}, "callback_id", "callback_id is required"),
        ({"callback_id": 17}, "callback_id", "callback_id must be a string"),
        ({"request_id": "42"}, "request_id", 'request_id must be "SO" followed by the service order id'),
        ({"status": "exploded"}, "status", f"status must be one of: {STATUSES}"),
        ({"status": "return_failed"}, "status", f"status must be one of: {STATUSES}"),
        ({"occurred_at": "2026-11-22T11:00:00"}, "occurred_at", "occurred_at must be an ISO 8601 time with offset"),
        ({"occurred_at": "yesterday"}, "occurred_at", "occurred_at must be an ISO 8601 time with offset"),
        ({"reason": ["no"]}, "reason", "reason must be a string"),
        ({"carrier_ref": "x" * 65}, "carrier_ref", "carrier_ref must be at most 64 characters"),
        (
            {"occurred_at": "2999-01-01T00:00:00+08:00"},
            "occurred_at",
            "occurred_at must be from 2000-01-01 to 2100-01-01 (UTC)",
        ),
    ],
)
def test_a_bad_field_is_a_400_naming_the_field(processing, carrier, change, field, error):
    before = snapshot(processing)
    body = {
        "callback_id": "CB-1",
        "request_id": f"SO{processing.pk:08d}",
        "status": "succeeded",
        "occurred_at": "2026-11-22T11:00:00+08:00",
        "carrier_ref": processing.carrier_ref,
        "reason": "",
    }
    body.update(change)
    body = {key: value for key, value in body.items() if value is not None}

    response = carrier.post_raw(json.dumps(body).encode())

    assert (response.status_code, response.json()) == (400, {"error": error, "field": field})
    assert snapshot(processing) == before


@pytest.mark.parametrize(
    "body",
    [
        b"[]",
        b'"text"',
        b"null",
        b"\xff\xfe{}",
        b'{"callback_id": "\xed\xb2\x80"}',  # a lone surrogate, UTF-8 encoded
        b'{"callback_id": "\\udc80", "request_id": "SO1", "status": "lost", "occurred_at": "2026-11-22T11:00:00Z"}',
    ],
)
def test_a_body_that_is_not_a_json_object_is_a_400(processing, carrier, body):
    response = carrier.post_raw(body)

    assert response.status_code == 400
    assert set(response.json()) == {"error", "field"}


def test_a_callback_for_an_unknown_service_order_is_a_404_and_is_not_recorded(processing, carrier):
    before = snapshot(processing)
    body = json.dumps(
        {
            "callback_id": "CB-9",
            "request_id": "SO99999999",
            "status": "succeeded",
            "occurred_at": "2026-11-22T11:00:00+08:00",
        }
    ).encode()

    response = carrier.post_raw(body)

    assert (response.status_code, response.json()) == (404, {"error": "unknown service order"})
    assert snapshot(processing) == before


def test_a_callback_naming_another_carrier_reference_is_refused(processing, carrier):
    before = snapshot(processing)

    response = carrier.send(processing, "succeeded", carrier_ref="CR-someone-else")

    assert (response.status_code, response.json()) == (
        400,
        {"error": "carrier_ref does not match the service order's", "field": "carrier_ref"},
    )
    assert snapshot(processing) == before


def test_the_callback_endpoint_only_accepts_post(client, db):
    assert client.get(URL).status_code == 405


# --- bounds shared with the events API (shop.platform_events.payload) ------------------------------
def callback_body(processing, **change) -> bytes:
    body = {
        "callback_id": "CB-1",
        "request_id": f"SO{processing.pk:08d}",
        "status": "succeeded",
        "occurred_at": "2026-11-22T11:00:00+08:00",
        "carrier_ref": processing.carrier_ref,
        "reason": "",
        **change,
    }
    return json.dumps(body, ensure_ascii=False).encode()


def test_json_nested_a_hundred_thousand_deep_is_a_400_and_changes_nothing(processing, carrier):
    before = snapshot(processing)
    body = callback_body(processing, reason=0).replace(b'"reason": 0', b'"reason": ' + b"[" * 100_000 + b"]" * 100_000)

    response = carrier.post_raw(body)

    assert (response.status_code, response.json()) == (
        400,
        {"error": f"JSON nested more than {MAX_DEPTH} levels deep", "field": ""},
    )
    assert snapshot(processing) == before


@pytest.mark.parametrize(
    "when",
    ["0001-01-01T00:00+14:00", "9999-12-31T23:59:59-14:00", "1999-12-31T23:59:59+00:00"],
)
def test_an_occurred_at_outside_the_window_is_a_400_and_changes_nothing(processing, carrier, when):
    before = snapshot(processing)

    response = carrier.post_raw(callback_body(processing, occurred_at=when))

    assert (response.status_code, response.json()) == (
        400,
        {"error": "occurred_at must be from 2000-01-01 to 2100-01-01 (UTC)", "field": "occurred_at"},
    )
    assert snapshot(processing) == before


def test_a_result_more_than_a_day_ahead_of_the_clock_is_a_400_and_changes_nothing(processing, carrier):
    before = snapshot(processing)
    when = (datetime.now(UTC) + timedelta(days=1, minutes=5)).isoformat()

    response = carrier.post_raw(callback_body(processing, occurred_at=when))

    assert (response.status_code, response.json()) == (
        400,
        {"error": "occurred_at is more than 1 day ahead of the server's clock", "field": "occurred_at"},
    )
    assert snapshot(processing) == before


def test_a_result_a_few_hours_ahead_of_the_clock_is_within_the_same_allowance_as_tracking_events(processing, carrier):
    # One rule for both endpoints: a carrier whose clock runs ahead is not refused for it.
    when = datetime.now(UTC) + timedelta(hours=20)

    response = carrier.post_raw(callback_body(processing, occurred_at=when.isoformat()))

    assert (response.status_code, response.json()) == (200, {"result": "applied"})
    processing.refresh_from_db()
    assert (processing.status, processing.result_at) == ("succeeded", when)


@pytest.mark.parametrize(
    "change, field",
    [
        ({"reason": "already\u0000signed"}, "reason"),
        ({"carrier_ref": "CR\u0000"}, "carrier_ref"),
        ({"callback_id": "CB-\u0000"}, "callback_id"),
        ({"extra": {"note": "\u0000"}}, "extra.note"),
    ],
    ids=["reason", "carrier_ref", "callback_id", "an unknown field"],
)
def test_a_nul_character_anywhere_is_a_400_and_changes_nothing(processing, carrier, change, field):
    before = snapshot(processing)

    response = carrier.post_raw(callback_body(processing, **change))

    assert (response.status_code, response.json()) == (
        400,
        {"error": "text must not contain NUL characters", "field": field},
    )
    assert snapshot(processing) == before


# --- concurrent deliveries (row locks are real only on PostgreSQL) ------------------------------------
@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="select_for_update is a no-op on SQLite")
@pytest.mark.parametrize(
    ("ids", "outcomes"), [(("CB-1", "CB-1"), ["applied", "duplicate"]), (("CB-1", "CB-2"), ["applied", "ignored"])]
)
def test_two_deliveries_at_the_same_moment_apply_the_result_once(
    transactional_db, refund_only_in_transit, shop, merchant, monkeypatch, ids, outcomes
):
    monkeypatch.setattr("interception.gateway.get_gateway", ProcessingCarrier)
    with transaction.atomic():  # the fixture's service expects its caller's transaction
        after_sale = refund_only_in_transit()
    services.launch_interceptions(shop=shop, user=merchant, after_sale_ids=[after_sale.pk], via="detail")
    service_order = ServiceOrder.objects.get()
    start = threading.Barrier(2)
    answers = []

    def deliver(callback_id):
        body = json.dumps(
            {
                "callback_id": callback_id,
                "request_id": f"SO{service_order.pk:08d}",
                "status": "succeeded",
                "occurred_at": "2026-11-22T11:00:00+08:00",
            }
        ).encode()
        ts = int(time.time())
        try:
            start.wait(5)
            answers.append(callbacks.handle(body, str(ts), sign(body, ts, settings.CARRIER_CALLBACK_SECRET)))
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver, args=(callback_id,)) for callback_id in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)

    assert sorted(answer.body["result"] for answer in answers) == outcomes
    assert [answer.status for answer in answers] == [200, 200]
    assert ServiceOrder.objects.get().status == "succeeded"
    assert (FeeCharge.objects.count(), RefundEntry.objects.count()) == (1, 1)
    assert CarrierCallback.objects.filter(applied=True).count() == 1


# --- the production secret ---------------------------------------------------------------------


def test_a_callback_signed_with_the_development_default_is_a_401_and_changes_nothing(
    processing,
    carrier,
    settings,
):
    settings.CARRIER_CALLBACK_SECRET = "carrier-secret-of-production"
    before = snapshot(processing)
    body = (
        f'{{"callback_id": "CB-forged", "request_id": "SO{processing.pk:08d}", "status": "succeeded",'
        f' "reason": "", "occurred_at": "2026-11-22T11:00:00+08:00"}}'
    ).encode()

    response = carrier.post_raw(body, secret="dev-carrier-secret")

    assert (response.status_code, response.json()) == (401, {"error": "invalid signature"})
    assert snapshot(processing) == before
