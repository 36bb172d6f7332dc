"""A local carrier that speaks the carrier API of ``interception.gateway.http``, for development and tests.

Run it with ``python manage.py carrier_sandbox [--port 8090] [--delay 1.0] [--fail-rate 0.0] [--no-callbacks]``, then
start the app with ``CARRIER_GATEWAY=http`` (``CARRIER_API_URL`` defaults to http://127.0.0.1:8090,
``CARRIER_CALLBACK_URL`` to http://127.0.0.1:8000/api/carrier/callback). Tests start it in-process::

    server, thread, base_url = start_sandbox(port=0, delay=0.1)
    try: ...
    finally: server.stop(thread)

Behaviour
---------
- Listens on 127.0.0.1 only. Keeps everything in memory: restart it after resetting the database,
  or the new service orders' request_ids meet the old ones (a 409 "used for another parcel", which
  our gateway records as a failed interception).
- **Idempotent**: a launch with a known request_id gets the very same answer and starts nothing
  (``server.launches[request_id]`` counts the calls; ``server.interceptions`` holds one entry).
- **Outcomes are deterministic**, from the tracking number and the ``parcel_status`` hint we send
  (matching the simulated gateway):

  checked in this order, first match wins:

  1. ``SIGNED`` in the tracking number, or parcel_status "signed": refused at once,
     200 ``{"status": "failed", "reason": "already signed"}``, no callback;
  2. a parcel_status that is not collected / in_transit / out_for_delivery: refused at once,
     "the parcel is not on its way to the buyer";
  3. parcel_status "out_for_delivery", or ``OFD`` in the number: 202, then callback ``failed``
     "out for delivery: the courier could not stop it";
  4. ``--fail-rate r``: when the request_id's draw is below r: 202, then callback ``failed``
     "the courier could not stop the parcel";
  5. ``LOST`` / ``DAMAGED`` / ``RETURN`` in the number: 202, then callbacks ``succeeded``,
     ``returning`` and ``lost`` / ``damaged`` / ``returned``;
  6. anything else: 202, then callback ``succeeded``.

  The draw for ``--fail-rate`` is ``random.Random(request_id).random()``: the same request_id always
  gets the same outcome.
- **Callbacks**: each step is POSTed to the launch's ``callback_url`` ``--delay`` seconds after the
  previous one was delivered, signed with ``X-Carrier-Timestamp`` / ``X-Carrier-Signature`` (HMAC of
  "{timestamp}.{body}" with ``CARRIER_CALLBACK_SECRET``). ``callback_id`` is ``CB-<carrier_ref>-<step>``.
  Like a real carrier it redelivers (same body, new signature) on connection errors, 5xx, 408 and
  429, up to 5 attempts with growing pauses, then gives up on that interception. Every delivery
  attempt is kept in ``server.deliveries``. ``--no-callbacks`` (``callbacks=False``) sends none: a
  carrier whose callbacks never arrive, for the stuck-orders sweep.
- **Status queries** (``POST /v1/interceptions/status``) answer the latest step that is due: step n
  (from 1) is due ``n × --delay`` seconds after the launch, whether or not its callback went out, with
  the same ``occurred_at`` as that callback. An unknown request_id is ``"unknown"``, a step not yet
  due ``"processing"``. ``server.status_queries[request_id]`` counts them.
"""

import http.client
import itertools
import json
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from django.conf import settings

from shop.signing import sign

MOVING_STATUSES = frozenset({"collected", "in_transit", "out_for_delivery"})  # shop.models.Parcel.MOVING_STATUSES
MAX_REQUEST_BYTES = 64 * 1024
CALLBACK_ATTEMPTS = 5
CALLBACK_TIMEOUT = 5.0

ALREADY_SIGNED = "already signed"
NOT_MOVING = "the parcel is not on its way to the buyer"
OUT_FOR_DELIVERY_WARNING = "out for delivery: the interception may fail"
OUT_FOR_DELIVERY_FAILED = "out for delivery: the courier could not stop it"
NOT_STOPPED = "the courier could not stop the parcel"


class BadRequest(Exception):
    def __init__(self, reason: str, status: int = 400):
        super().__init__(reason)
        self.reason = reason
        self.status = status


@dataclass
class Interception:
    request_id: str
    courier: str
    tracking_no: str
    carrier_ref: str
    callback_url: str
    answer_status: int
    answer: dict
    steps: list[tuple[str, str]]  # (status, reason) to report by callback, in order
    launched_at: float = 0.0  # time.monotonic() of the first launch: when the steps fall due
    occurred_at: dict[int, str] = field(default_factory=dict)  # step → its time, fixed at the first attempt


@dataclass(frozen=True)
class Delivery:
    callback_id: str
    status: str
    attempt: int
    http_status: int | None  # None: no answer (connection refused, timeout)
    error: str = ""


class CarrierSandbox(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        *,
        delay: float,
        fail_rate: float,
        callback_secret: str,
        callbacks: bool = True,
        log: Callable[[str], None] | None = None,
    ):
        super().__init__(address, _Handler)
        self.delay = delay
        self.fail_rate = fail_rate
        self.callbacks = callbacks
        self.status_queries: Counter[str] = Counter()
        self.callback_secret = callback_secret
        self.log = log or (lambda message: None)
        self.lock = threading.Lock()
        self.interceptions: dict[str, Interception] = {}
        self.launches: Counter[str] = Counter()
        self.deliveries: list[Delivery] = []
        self._refs = itertools.count(1)
        self._timers: set[threading.Timer] = set()
        self._stopping = False

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    # --- the API ---------------------------------------------------------------------------------------
    def precheck(self, payload: dict) -> tuple[int, dict]:
        courier, tracking_no, parcel_status = _parcel(payload)
        refusal = _refusal(tracking_no, parcel_status)
        if refusal:
            return 200, {"ok": False, "reason": refusal}
        if _out_for_delivery(tracking_no, parcel_status):
            return 200, {"ok": True, "reason": OUT_FOR_DELIVERY_WARNING}
        return 200, {"ok": True, "reason": ""}

    def launch(self, payload: dict) -> tuple[int, dict]:
        courier, tracking_no, parcel_status = _parcel(payload)
        request_id = _string(payload, "request_id")
        if not request_id.startswith("SO") or not request_id[2:].isdigit():
            raise BadRequest('request_id must be "SO" followed by digits')
        callback_url = _string(payload, "callback_url")
        if urlsplit(callback_url).scheme not in ("http", "https"):
            raise BadRequest("callback_url must be an http(s) URL")
        with self.lock:
            self.launches[request_id] += 1
            known = self.interceptions.get(request_id)
            if known is not None:
                if (known.courier, known.tracking_no) != (courier, tracking_no):
                    raise BadRequest("request_id was already used for another parcel", status=409)
                return known.answer_status, known.answer
            carrier_ref = f"SBX{next(self._refs):08d}"
            refusal = _refusal(tracking_no, parcel_status)
            if refusal:
                status, answer, steps = 200, {"carrier_ref": carrier_ref, "status": "failed", "reason": refusal}, []
                answer["occurred_at"] = _now()
            else:
                status, answer = 202, {"carrier_ref": carrier_ref, "status": "processing"}
                steps = self._plan(request_id, tracking_no, parcel_status)
            self.interceptions[request_id] = Interception(
                request_id, courier, tracking_no, carrier_ref, callback_url, status, answer, steps, time.monotonic()
            )
        self.log(f"launch {request_id} {courier} {tracking_no} → {status} {answer}")
        if steps and self.callbacks:
            self._schedule(self.delay, self._deliver, request_id, 0, 1)
        return status, answer

    def status(self, payload: dict) -> tuple[int, dict]:
        request_id = _string(payload, "request_id")
        with self.lock:
            self.status_queries[request_id] += 1
            interception = self.interceptions.get(request_id)
            if interception is None:
                answer = {"request_id": request_id, "carrier_ref": "", "status": "unknown"}
            elif not interception.steps:  # refused at once: the launch's answer is the result
                answer = {"request_id": request_id, **interception.answer}
            else:
                elapsed = time.monotonic() - interception.launched_at
                due = (
                    len(interception.steps)
                    if self.delay <= 0
                    else min(len(interception.steps), int(elapsed / self.delay))
                )
                answer = {"request_id": request_id, "carrier_ref": interception.carrier_ref, "status": "processing"}
                if due:
                    step = due - 1
                    status, reason = interception.steps[step]
                    occurred_at = interception.occurred_at.setdefault(step, _now())
                    answer |= {"status": status, "reason": reason, "occurred_at": occurred_at}
        self.log(f"status {request_id} → {answer['status']}")
        return 200, answer

    def _plan(self, request_id: str, tracking_no: str, parcel_status: str) -> list[tuple[str, str]]:
        number = tracking_no.upper()
        if _out_for_delivery(tracking_no, parcel_status):
            return [("failed", OUT_FOR_DELIVERY_FAILED)]
        if self.fail_rate and random.Random(request_id).random() < self.fail_rate:
            return [("failed", NOT_STOPPED)]
        for word, last in (("LOST", "lost"), ("DAMAGED", "damaged"), ("RETURN", "returned")):
            if word in number:
                return [("succeeded", ""), ("returning", ""), (last, "")]
        return [("succeeded", "")]

    # --- callbacks ---------------------------------------------------------------------------------
    def _schedule(self, seconds: float, function, *args) -> None:
        with self.lock:
            if self._stopping:
                return
            timer = threading.Timer(seconds, self._run_timer, args=(function, args))
            timer.daemon = True
            self._timers.add(timer)
        timer.start()

    def _run_timer(self, function, args) -> None:
        try:
            function(*args)
        finally:
            with self.lock:
                self._timers.discard(threading.current_thread())

    def _deliver(self, request_id: str, step: int, attempt: int) -> None:
        with self.lock:
            if self._stopping:
                return
            interception = self.interceptions[request_id]
            status, reason = interception.steps[step]
            occurred_at = interception.occurred_at.setdefault(step, _now())
        callback_id = f"CB-{interception.carrier_ref}-{step + 1}"
        body = {
            "callback_id": callback_id,
            "request_id": request_id,
            "status": status,
            "reason": reason,
            "occurred_at": occurred_at,
            "carrier_ref": interception.carrier_ref,
        }
        raw = json.dumps(body, ensure_ascii=False).encode()
        http_status, error = None, ""
        try:
            http_status = _post(interception.callback_url, raw, self.callback_secret)
        except (OSError, http.client.HTTPException) as exc:
            error = f"{type(exc).__name__}: {exc}"
        with self.lock:
            self.deliveries.append(Delivery(callback_id, status, attempt, http_status, error))
        self.log(f"callback {callback_id} {status} attempt {attempt} → {http_status or error}")
        retry = http_status is None or http_status >= 500 or http_status in (408, 429)
        if retry and attempt < CALLBACK_ATTEMPTS:
            self._schedule(max(self.delay, 0.1) * 2**attempt, self._deliver, request_id, step, attempt + 1)
        elif not retry and step + 1 < len(interception.steps):
            self._schedule(self.delay, self._deliver, request_id, step + 1, 1)

    def pending_callbacks(self) -> int:
        with self.lock:
            return len(self._timers)

    def stop(self, thread: threading.Thread | None = None, timeout: float = 5.0) -> None:
        """Cancel pending callbacks, wait for those under way, stop serving and close the socket."""
        with self.lock:
            self._stopping = True
            timers = list(self._timers)
        for timer in timers:
            timer.cancel()
        for timer in timers:
            if timer is not threading.current_thread():
                timer.join(timeout)
        if thread is not None and thread.is_alive():
            self.shutdown()
            thread.join(timeout)
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    server: CarrierSandbox
    server_version = "CarrierSandbox/1"
    routes = {"/v1/precheck": "precheck", "/v1/interceptions": "launch", "/v1/interceptions/status": "status"}

    def do_POST(self):  # noqa: N802 (the http.server naming)
        try:
            route = self.routes.get(self.path.split("?", 1)[0])
            if route is None:
                raise BadRequest("no such endpoint", status=404)
            status, answer = getattr(self.server, route)(self._payload())
        except BadRequest as exc:
            status, answer = exc.status, {"reason": exc.reason}
        self._answer(status, answer)

    def do_GET(self):  # noqa: N802
        self._answer(405, {"reason": "use POST"})

    def _payload(self) -> dict:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            raise BadRequest("bad Content-Length") from None
        if length > MAX_REQUEST_BYTES:
            raise BadRequest("request too large", status=413)
        try:
            payload = json.loads(self.rfile.read(length))
        except (ValueError, UnicodeDecodeError):
            raise BadRequest("malformed JSON") from None
        if not isinstance(payload, dict):
            raise BadRequest("the body must be a JSON object")
        return payload

    def _answer(self, status: int, answer: dict) -> None:
        raw = json.dumps(answer, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, format, *args):  # noqa: A002 (the http.server signature)
        pass  # the server's own log says what matters


def start_sandbox(
    port: int = 0,
    *,
    delay: float = 1.0,
    fail_rate: float = 0.0,
    callback_secret: str | None = None,
    callbacks: bool = True,
    log: Callable[[str], None] | None = None,
) -> tuple[CarrierSandbox, threading.Thread, str]:
    """Serve the sandbox on 127.0.0.1:port (0: any free port) in a daemon thread.

    Returns (server, thread, base_url); ``server.stop(thread)`` shuts it down cleanly.
    """
    server = CarrierSandbox(
        ("127.0.0.1", port),
        delay=delay,
        fail_rate=fail_rate,
        callback_secret=settings.CARRIER_CALLBACK_SECRET if callback_secret is None else callback_secret,
        callbacks=callbacks,
        log=log,
    )
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    return server, thread, server.base_url


def _post(url: str, raw: bytes, secret: str) -> int:
    parts = urlsplit(url)
    connection_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    connection = connection_class(parts.hostname, parts.port, timeout=CALLBACK_TIMEOUT)
    timestamp = int(time.time())
    try:
        connection.request(
            "POST",
            (parts.path or "/") + (f"?{parts.query}" if parts.query else ""),
            body=raw,
            headers={
                "Content-Type": "application/json",
                "X-Carrier-Timestamp": str(timestamp),
                "X-Carrier-Signature": sign(raw, timestamp, secret),
            },
        )
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def _string(payload: dict, key: str, *, required: bool = True) -> str:
    value = payload.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value.strip():
        raise BadRequest(f"{key} must be a non-empty string")
    return value.strip()


def _parcel(payload: dict) -> tuple[str, str, str]:
    parcel_status = _string(payload, "parcel_status", required=False)
    return _string(payload, "courier"), _string(payload, "tracking_no"), parcel_status


def _refusal(tracking_no: str, parcel_status: str) -> str:
    if "SIGNED" in tracking_no.upper() or parcel_status == "signed":
        return ALREADY_SIGNED
    if parcel_status and parcel_status not in MOVING_STATUSES:
        return NOT_MOVING
    return ""


def _out_for_delivery(tracking_no: str, parcel_status: str) -> bool:
    return parcel_status == "out_for_delivery" or "OFD" in tracking_no.upper()


def _now() -> str:
    return datetime.now(UTC).isoformat()
