"""The carrier's signed result callback: ``POST /api/carrier/callback``.

The carrier reports each interception result later, by POSTing JSON to the ``callback_url`` we sent
with the launch (``settings.CARRIER_CALLBACK_URL``). The HTTP API is described in
``interception.gateway.http``; this is the receiving end.

Authentication (same scheme as our inbound platform events):
    ``X-Carrier-Timestamp``: Unix time in seconds, within ``CARRIER_CALLBACK_MAX_SKEW_SECONDS`` (300 s) of ours;
    ``X-Carrier-Signature``: lowercase hex HMAC-SHA256 of ``"{timestamp}.{raw body}"`` keyed with
    ``settings.CARRIER_CALLBACK_SECRET``.

Body::

    {"callback_id": "CB-SBX00000001-1",          # unique per result; a replay changes nothing
     "request_id": "SO00000042",                  # the launch's idempotency key: "SO" + our id
     "status": "succeeded",                        # succeeded | failed | returning | returned | lost | damaged
     "reason": "",                                 # why it failed (optional)
     "occurred_at": "2026-11-22T10:15:00+08:00",   # the carrier's time of the result, with offset
     "carrier_ref": "SBX00000001"}                 # the carrier's reference (optional)

``lost`` and ``damaged`` become the result ``return_failed`` with that return failure.

Answers (JSON), never a 500 for bad input:
    401 ``{"error"}``: missing, stale or wrong timestamp/signature;
    400 ``{"error", "field"}``: malformed JSON or a bad field, with the bounds of the events API
    (``shop.platform_events.payload``): nesting, NUL characters, times from 2000 to 2100, and an
    occurred_at at most ``FUTURE_ALLOWANCE`` (a day) ahead of our clock;
    404 ``{"error"}``: no service order with that request_id;
    409 ``{"error", "code"}``: a business rule refused to apply the result;
    200 ``{"result": "applied" | "duplicate" | "ignored"}``: applied; this callback_id was already
    received (nothing changed); or recorded but changed nothing (older than the result already
    applied, or a move backwards).

Every received callback is stored as a ``CarrierCallback`` in the same transaction as the result it
applied, so a crash in the middle leaves neither, and the carrier's retry applies it then.
"""

import time
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from shop.errors import DomainError, NotFound
from shop.middleware import machine_endpoint
from shop.platform_events.payload import BadEvent, Reader, load_json
from shop.request_limits import API_BODY_MAX_BYTES, limit_body
from shop.signing import verify

from . import services
from .gateway.http import service_order_id_from
from .models import CarrierCallback, ServiceOrder

# The carrier's result vocabulary → (our result status, return failure); the status queries share it.
CALLBACK_STATUSES = services.CARRIER_RESULTS


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict


@dataclass(frozen=True)
class CarrierResult:
    callback_id: str
    service_order_id: int
    carrier_status: str
    reason: str
    occurred_at: datetime
    carrier_ref: str


def check_signature(body: bytes, timestamp: str | None, signature: str | None, *, now: float) -> str | None:
    """The reason the callback is not authentic, or None when it is."""
    if not timestamp or not signature:
        return "missing X-Carrier-Timestamp or X-Carrier-Signature"
    timestamp = timestamp.strip()
    if not timestamp.isascii() or not timestamp.isdigit():
        return "X-Carrier-Timestamp must be Unix time in seconds"
    window = settings.CARRIER_CALLBACK_MAX_SKEW_SECONDS
    if abs(now - int(timestamp)) > window:
        return f"timestamp is more than {window} s from now"
    if not verify(body, timestamp, signature, settings.CARRIER_CALLBACK_SECRET):
        return "invalid signature"
    return None


def parse(body: bytes, *, now: datetime) -> CarrierResult:
    """The callback's fields, or BadEvent naming the first bad one (the bounds of the events API)."""
    root = Reader(load_json(body), "", now=now)
    callback_id = root.str("callback_id", max_length=100)
    request_id = root.str("request_id", max_length=40)
    service_order_id = service_order_id_from(request_id)
    if service_order_id is None:
        raise BadEvent('request_id must be "SO" followed by the service order id', "request_id")
    carrier_status = root.choice("status", tuple(CALLBACK_STATUSES))
    return CarrierResult(
        callback_id=callback_id,
        service_order_id=service_order_id,
        carrier_status=carrier_status,
        reason=root.str("reason", max_length=200, required=False),
        # A result from the future would outrank every real one that follows (see apply_result).
        occurred_at=root.tracking_time("occurred_at"),
        carrier_ref=root.str("carrier_ref", max_length=64, required=False),
    )


def handle(body: bytes, timestamp: str | None, signature: str | None, *, now: float | None = None) -> Answer:
    """Authenticate, parse and apply one callback; the answer for the carrier."""
    now = time.time() if now is None else now
    problem = check_signature(body, timestamp, signature, now=now)
    if problem:
        return Answer(401, {"error": problem})
    try:
        result = parse(body, now=datetime.fromtimestamp(now, UTC))
    except BadEvent as exc:
        return Answer(400, {"error": exc.message, "field": exc.field})

    if CarrierCallback.objects.filter(callback_id=result.callback_id).exists():
        return Answer(200, {"result": "duplicate"})
    known = ServiceOrder.objects.filter(pk=result.service_order_id).values_list("carrier_ref", flat=True).first()
    if known is None:
        return Answer(404, {"error": "unknown service order"})
    if known and result.carrier_ref and known != result.carrier_ref:
        return Answer(400, {"error": "carrier_ref does not match the service order's", "field": "carrier_ref"})

    status, return_failure = CALLBACK_STATUSES[result.carrier_status]
    try:
        with transaction.atomic():
            # apply_result locks order → line → after-sale → service order before writing; the
            # callback row comes after, so concurrent deliveries queue on those locks, and a
            # concurrent duplicate fails on the unique callback_id and rolls back all it did.
            applied = services.apply_result(
                service_order_id=result.service_order_id,
                status=status,
                reason=result.reason,
                occurred_at=result.occurred_at,
                carrier_ref=result.carrier_ref,
                return_failure=return_failure,
            )
            CarrierCallback.objects.create(
                callback_id=result.callback_id,
                service_order_id=result.service_order_id,
                status=result.carrier_status,
                occurred_at=result.occurred_at,
                applied=applied,
            )
    except IntegrityError:
        if CarrierCallback.objects.filter(callback_id=result.callback_id).exists():
            return Answer(200, {"result": "duplicate"})
        raise
    except NotFound:
        return Answer(404, {"error": "unknown service order"})
    except DomainError as exc:
        return Answer(409, {"error": exc.message, "code": exc.code})
    return Answer(200, {"result": "applied" if applied else "ignored"})


@machine_endpoint
@csrf_exempt  # authenticated by the HMAC signature, not by a session
@require_POST
@limit_body(API_BODY_MAX_BYTES)
def carrier_callback(request):
    answer = handle(
        request.body,
        request.headers.get("X-Carrier-Timestamp"),
        request.headers.get("X-Carrier-Signature"),
    )
    return JsonResponse(answer.body, status=answer.status, json_dumps_params={"ensure_ascii": False})
