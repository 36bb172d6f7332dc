"""HTTP adapter: a JSON client of the carrier's interception API (``CARRIER_GATEWAY = "http"``).

The carrier API, version 1
==========================
Base URL ``settings.CARRIER_API_URL`` (``python manage.py carrier_sandbox`` serves it locally on
127.0.0.1:8090). Requests and answers are JSON objects (UTF-8); every request is a ``POST``.

``POST /v1/precheck`` — can this parcel be intercepted?
    request  ``{"courier": "YTO", "tracking_no": "YT1234567890", "parcel_status": "in_transit"}``
    200      ``{"ok": true, "reason": ""}``; ``ok`` false with the reason when it cannot be
             intercepted (``"already signed"``), or true with a warning (``"out for delivery: …"``).

``POST /v1/interceptions`` — launch an interception
    request  ``{"request_id": "SO00000042", "courier": "YTO", "tracking_no": "YT1234567890",
             "parcel_status": "in_transit", "callback_url": "https://…/api/carrier/callback"}``

    ``request_id`` is our idempotency key: ``"SO"`` + our service-order id on 8 digits (the
    service-order number shown in the app). The carrier answers the same request_id with the same
    answer and starts one interception only, so a launch may be retried safely at any time (a
    timeout, a worker killed and re-run). Reusing a request_id for another parcel is a 409.
    ``parcel_status`` is our last known logistics status, a hint the carrier may ignore.

    202      ``{"carrier_ref": "SBX00000001", "status": "processing"}``: accepted, the result comes
             later by a signed callback to ``callback_url`` (see ``interception.callbacks``);
    200      ``{"carrier_ref": …, "status": "failed", "reason": "already signed", "occurred_at": …}``:
             refused at once (``"succeeded"`` at once is accepted too);
    4xx      ``{"reason": "…"}``: the carrier refuses the request: the interception failed, with that
             reason; except 401, 403 and 404 (below).

``POST /v1/interceptions/status`` — what became of a launch (asked by the stuck-orders sweep)
    request  ``{"request_id": "SO00000042", "carrier_ref": "SBX00000001"}`` (``carrier_ref`` may be "")
    200      ``{"request_id": …, "carrier_ref": …, "status": …, "reason": "…", "occurred_at": …}``, where
             ``status`` is ``"unknown"`` (no launch with that request_id: we send it again),
             ``"processing"`` (no result yet) or a result in the callback's vocabulary (``succeeded``,
             ``failed``, ``returning``, ``returned``, ``lost``, ``damaged``) with its time. A known
             result is answered with the same ``occurred_at`` as its callback, so applying both
             changes nothing the second time.

401, 403 and 404 — on any endpoint
    The carrier does not accept our key, or we call a URL it does not serve: our configuration, not
    the parcel. The client raises ``CarrierConfigurationError``; the service orders stay waiting and
    an operator is alerted (``interception.services.alerts``). An unknown request_id is therefore
    never a 404 but a 200 ``"unknown"``.

Client behaviour
================
- Timeout ``CARRIER_HTTP_TIMEOUT`` seconds per connect and per read.
- A launch is retried ``CARRIER_HTTP_RETRIES`` times, with exponential backoff, on connection
  errors, timeouts, 5xx, 408 and 429; then ``CarrierError`` is raised and the carrier task calls
  again later for that parcel only (the service order stays "processing"; see
  ``interception.services.CARRIER_RETRY_DELAYS``). 401, 403 and 404 raise
  ``CarrierConfigurationError`` at once (no retry). Any other 4xx is a failed ``LaunchResult``
  with the carrier's reason. A 2xx that is not the JSON above is ``CarrierError`` too. An
  ``occurred_at`` that is not an aware time from 2000 to a few minutes ahead of our clock is
  replaced by our clock, and NUL characters are dropped from the texts: a result is never refused
  at the database, or dated so far ahead that every later one would be ignored.
- A pre-check is advisory (the launch decides) and runs once per parcel of a preview page: one
  attempt, no retry; when the carrier does not answer, it says so as a warning and the gateway
  stops asking for the rest of that preview (a 401, 403 or 404 is such a warning too, not a refusal).
- A status query is one attempt (the sweep asks again at its next run); an answer that is not the
  JSON above is ``CarrierError``.
- stdlib ``http.client`` only: no environment proxies, no redirects followed.
"""

import http.client
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone
from django.utils.translation import gettext as _

from . import CarrierConfigurationError, CarrierError, LaunchResult, ParcelFacts, Precheck, StatusResult

REQUEST_ID_RE = re.compile(r"^SO(\d{1,18})$")
CARRIER_REF_MAX_LENGTH = 64  # ServiceOrder.carrier_ref
REASON_MAX_LENGTH = 200  # ServiceOrder.failure_reason
MAX_ANSWER_BYTES = 1_000_000
MAX_BACKOFF_SECONDS = 10.0
RETRYABLE_4XX = frozenset({408, 429})  # the carrier asks us to come back later
CONFIGURATION_4XX = frozenset({401, 403, 404})  # a wrong key or URL: ours to fix, not the parcel's
STATUS_ANSWERS = frozenset({"unknown", "processing", "succeeded", "failed", "returning", "returned", "lost", "damaged"})
USER_AGENT = "aftersales-backoffice/1 (interception)"
EARLIEST_RESULT_TIME = datetime(2000, 1, 1, tzinfo=UTC)


def request_id_for(service_order_id: int) -> str:
    """Our idempotency key for a launch: the service-order number, "SO" + the id on 8 digits."""
    return f"SO{service_order_id:08d}"


def service_order_id_from(request_id: str) -> int | None:
    """The service-order id in a request_id ("SO00000042" or "SO42"), or None if it is not one."""
    match = REQUEST_ID_RE.match(request_id)
    return int(match.group(1)) if match else None


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict | None  # None when the answer was not a JSON object


class HttpGateway:
    """The carrier over HTTP. Holds no connection between calls; safe to build per task."""

    def __init__(
        self,
        *,
        base_url: str | None = None,
        callback_url: str | None = None,
        timeout: float | None = None,
        retries: int | None = None,
        backoff: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.base_url = (base_url or settings.CARRIER_API_URL).rstrip("/")
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ImproperlyConfigured(f"CARRIER_API_URL must be an http(s) URL, not {self.base_url!r}")
        self._connection_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        self._host, self._port, self._prefix = parts.hostname, parts.port, parts.path
        self.callback_url = callback_url or settings.CARRIER_CALLBACK_URL
        self.timeout = settings.CARRIER_HTTP_TIMEOUT if timeout is None else timeout
        self.retries = settings.CARRIER_HTTP_RETRIES if retries is None else retries
        self.backoff = backoff
        self.sleep = sleep
        self._precheck_unavailable = False

    # --- the Gateway interface -------------------------------------------------------------------
    def precheck(self, parcel: ParcelFacts) -> Precheck:
        unavailable = Precheck(True, _("the carrier did not answer the pre-check; the launch will tell"))
        if self._precheck_unavailable:
            return unavailable
        payload = {"courier": parcel.courier, "tracking_no": parcel.tracking_no, "parcel_status": parcel.status}
        try:
            answer = self._post("/v1/precheck", payload, retries=0)
        except CarrierError:
            self._precheck_unavailable = True
            return unavailable
        if 400 <= answer.status < 500:
            return Precheck(False, self._refusal(answer))
        ok = (answer.body or {}).get("ok")
        if answer.status >= 300 or not isinstance(ok, bool):
            return unavailable
        return Precheck(ok, _text((answer.body or {}).get("reason")))

    def launch(self, parcel: ParcelFacts) -> LaunchResult:
        if parcel.service_order_id is None:
            raise ValueError("a launch needs the service order id: it is the idempotency key")
        payload = {
            "request_id": request_id_for(parcel.service_order_id),
            "courier": parcel.courier,
            "tracking_no": parcel.tracking_no,
            "parcel_status": parcel.status,
            "callback_url": self.callback_url,
        }
        answer = self._post("/v1/interceptions", payload, retries=self.retries)
        body = answer.body or {}
        carrier_ref = _text(body.get("carrier_ref"))
        if len(carrier_ref) > CARRIER_REF_MAX_LENGTH:
            raise CarrierError(f"carrier_ref longer than {CARRIER_REF_MAX_LENGTH} characters: {carrier_ref[:80]!r}")
        if 400 <= answer.status < 500:
            return LaunchResult("failed", self._refusal(answer), carrier_ref, timezone.now())
        status = body.get("status")
        if 200 <= answer.status < 300 and status == "processing" and carrier_ref:
            return LaunchResult("processing", "", carrier_ref)
        if 200 <= answer.status < 300 and status in ("succeeded", "failed"):
            reason = _text(body.get("reason"))[:REASON_MAX_LENGTH]
            return LaunchResult(status, reason, carrier_ref, _aware(body.get("occurred_at")) or timezone.now())
        raise CarrierError(f"unexpected answer to a launch: HTTP {answer.status} {str(body)[:200]}")

    def status(self, parcel: ParcelFacts, carrier_ref: str = "") -> StatusResult:
        if parcel.service_order_id is None:
            raise ValueError("a status query needs the service order id: it is the request_id")
        payload = {"request_id": request_id_for(parcel.service_order_id), "carrier_ref": carrier_ref}
        answer = self._post("/v1/interceptions/status", payload, retries=0)
        body = answer.body or {}
        status = body.get("status")
        ref = _text(body.get("carrier_ref")) or carrier_ref
        if answer.status != 200 or status not in STATUS_ANSWERS or len(ref) > CARRIER_REF_MAX_LENGTH:
            raise CarrierError(f"unexpected answer to a status query: HTTP {answer.status} {str(body)[:200]}")
        if status in ("unknown", "processing"):
            return StatusResult(status, "", ref)
        reason = _text(body.get("reason"))[:REASON_MAX_LENGTH]
        return StatusResult(status, reason, ref, _aware(body.get("occurred_at")) or timezone.now())

    # --- the wire ----------------------------------------------------------------------------------
    def _post(self, path: str, payload: dict, *, retries: int) -> Answer:
        """POST JSON; retried on connection errors, timeouts, 5xx, 408 and 429, then CarrierError."""
        data = json.dumps(payload, ensure_ascii=False).encode()
        problem = ""
        for attempt in range(retries + 1):
            if attempt:
                self.sleep(min(self.backoff * 2 ** (attempt - 1), MAX_BACKOFF_SECONDS))
            try:
                status, raw = self._send(path, data)
            except (OSError, http.client.HTTPException) as exc:  # refused, reset, timed out, garbled
                problem = f"{type(exc).__name__}: {exc}"
                continue
            if status >= 500 or status in RETRYABLE_4XX:
                problem = f"HTTP {status}"
                continue
            answer = Answer(status, _json_object(raw))
            if status in CONFIGURATION_4XX:
                reason = self._refusal(answer)
                raise CarrierConfigurationError(
                    f"POST {self.base_url}{path}: HTTP {status}: {reason}", http_status=status
                )
            return answer
        raise CarrierError(f"POST {self.base_url}{path}: {problem} (after {retries + 1} attempt(s))")

    def _send(self, path: str, data: bytes) -> tuple[int, bytes]:
        connection = self._connection_class(self._host, self._port, timeout=self.timeout)
        try:
            connection.request(
                "POST",
                self._prefix + path,
                body=data,
                headers={"Content-Type": "application/json", "Accept": "application/json", "User-Agent": USER_AGENT},
            )
            response = connection.getresponse()
            return response.status, response.read(MAX_ANSWER_BYTES)
        finally:
            connection.close()

    @staticmethod
    def _refusal(answer: Answer) -> str:
        body = answer.body or {}
        reason = _text(body.get("reason")) or _text(body.get("error"))
        if not reason:
            reason = _("the carrier refused the request (HTTP %(status)s)") % {"status": answer.status}
        return reason[:REASON_MAX_LENGTH]


def _json_object(raw: bytes) -> dict | None:
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


def _text(value) -> str:
    # No NUL: PostgreSQL cannot store it in a text column, and the result would never be applied.
    return value.replace("\x00", "").strip() if isinstance(value, str) else ""


def _aware(value) -> datetime | None:
    """The carrier's time of a result, or None (our clock is used) when it is not an aware time between
    2000 and a few minutes from now: a time the database cannot store (year 1, year 9999 at -14:00), or
    one from the future that every later real result would be "older" than (see apply_result)."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
        if parsed.tzinfo is None:
            return None
        parsed = parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        return None
    latest = timezone.now() + timedelta(seconds=settings.CARRIER_CALLBACK_MAX_SKEW_SECONDS)
    return parsed if EARLIEST_RESULT_TIME <= parsed <= latest else None
