"""Inbound platform events through a real server on loopback: events per second and latency.

Starts gunicorn on a free port of 127.0.0.1 as a subprocess in its own process group, once with 4
and once with 8 sync workers (BENCH_EVENTS_WORKERS="4,8"; BENCH_EVENTS_WORKER_CLASS=gthread and
BENCH_EVENTS_THREADS change the kind) with the production settings minus the HTTPS redirect (DEBUG
off, persistent database connections), against this process's DATABASE_URL and fresh random secrets.
Waits until it answers, then posts the signed events of a fresh shop of its own from 8 client
threads (BENCH_EVENTS_CLIENTS), each with one keep-alive http.client connection (the sync worker
closes it after each answer; the client reconnects).

The events are those of simulate.py's buyers, per order in order (each client thread owns some orders,
so the orders interleave): order.paid, parcel.shipped, parcel.status along a logistics path (signed,
refused by trusted or other buyers, out for delivery), refund-only applications while in transit
(refund after refusal), return applications after sign-for, a buyer withdrawing, a return shipped
before the merchant agreed it (409 invalid_transition, as the contract says), re-deliveries of the same
id (200 duplicate) and late tracking events (applied, moving nothing). Counts 2xx, 409 and anything
else; a 5xx or a connection error is a failure of the run.
"""

import http.client
import json
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from datetime import datetime, timedelta

from bench.common import BASE_DIR, Context, percentile
from shop.localtime import SHANGHAI

PATH = "/api/platform/events"
CLIENTS = int(os.environ.get("BENCH_EVENTS_CLIENTS", "8"))
# One gunicorn run per count (the first is the headline figure; the others get a suffix "_8w").
WORKER_COUNTS = [int(n) for n in os.environ.get("BENCH_EVENTS_WORKERS", "4,8").split(",")]
WORKERS = WORKER_COUNTS[0]
WORKER_CLASS = os.environ.get("BENCH_EVENTS_WORKER_CLASS", "sync")
THREADS = int(os.environ.get("BENCH_EVENTS_THREADS", "4"))  # per gthread worker
# gunicorn's arbiter and its workers import the whole project first: 8 workers on a busy 2-core machine
# took more than a minute to answer.
STARTUP_TIMEOUT_S = float(os.environ.get("BENCH_EVENTS_STARTUP_S", "240"))
# Production settings refuse the development secrets: the server and its clients share a fresh one.
EVENTS_SECRET = secrets.token_urlsafe(32)
PRODUCTS = [("保温杯", "home", "89.00"), ("蓝牙耳机", "digital", "399.00"), ("积木", "toys", "129.00")]


def run(ctx: Context) -> dict:
    orders = 60 if ctx.quick else 600
    queries = queries_per_type(ctx)
    figures: dict = {}
    for workers in WORKER_COUNTS:
        suffix = "" if workers == WORKER_COUNTS[0] else f"_{workers}w"
        try:
            measured = run_server(ctx, orders=orders, workers=workers, queries=queries)
        except ServerDidNotStart as exc:  # the other counts' figures still count; the report says why
            ctx.notes.append(f"events: {workers} workers not measured: {exc}")
            ctx.log(f"events: {workers} workers not measured: {exc}")
            continue
        figures |= {f"{key}{suffix}": value for key, value in measured.items()}
    return figures


def run_server(ctx: Context, *, orders: int, workers: int, queries: dict[str, int]) -> dict:
    """One gunicorn run of `workers` workers: a fresh shop's events from CLIENTS threads."""
    from shop.models import PlatformEvent

    rng = random.Random(20261122)
    shop_code = make_shop()
    streams = [order_events(rng, shop_code, n) for n in range(orders)]
    total = sum(len(stream) for stream in streams)
    ctx.log(f"events: {orders} orders of shop {shop_code}, {total} events, {CLIENTS} client threads")
    with Server(workers=workers) as server:
        ctx.log(f"events: gunicorn on {server.port} ({server.describe()}) answers after {server.startup_s:.1f} s")
        results, elapsed = post_all(server.port, streams)
    latencies = [latency for _type, _status, _body, latency in results]
    statuses = Counter(status for _type, status, _body, _latency in results)
    outcomes = Counter(
        f"{status} {body.get('result') or body.get('code') or body.get('error', '')}"
        for _t, status, body, _l in results
    )
    by_type: dict[str, list[float]] = {}
    for type, _status, _body, latency in results:
        by_type.setdefault(type, []).append(latency)
    ctx.tables[f"Platform events through gunicorn ({server.describe()}, {CLIENTS} clients), per event type"] = [
        (f"{type} ×{len(values)}", percentile(values, 50) * 1000, percentile(values, 95) * 1000, queries.get(type, ""))
        for type, values in sorted(by_type.items())
    ]
    ctx.log(
        f"events: {len(results)} in {elapsed:.1f} s ({len(results) / elapsed:.0f}/s): {dict(sorted(outcomes.items()))}"
    )
    server_errors = sum(n for status, n in statuses.items() if status >= 500 or status == 0)
    ok = sum(n for status, n in statuses.items() if 200 <= status < 300)
    conflicts = statuses.get(409, 0)
    other = len(results) - ok - conflicts
    applied = outcomes.get("200 applied", 0)
    stored = PlatformEvent.objects.filter(event_id__startswith=f"bench-{shop_code}-").count()
    if stored != applied:
        raise AssertionError(f"{applied} events answered applied, {stored} stored")
    if server_errors:
        raise AssertionError(f"{server_errors} server errors: {dict(outcomes)}")
    ctx.notes.append(
        f"events: {len(results)} signed events of {orders} orders from {CLIENTS} client threads to gunicorn "
        f"({server.describe()}, prod settings without HTTPS redirect) on loopback: {dict(sorted(outcomes.items()))}"
    )
    return {
        "events_per_s": round(len(results) / elapsed, 1),
        "events_p50_ms": round(percentile(latencies, 50) * 1000, 1),
        "events_p95_ms": round(percentile(latencies, 95) * 1000, 1),
        "events_sent": len(results),
        "events_2xx": ok,
        "events_409": conflicts,
        "events_other": other,
        "events_server_errors": server_errors,
    }


def queries_per_type(ctx: Context) -> dict[str, int]:
    """Queries of one event, by type (the most any event of the type ran), counted in this process:
    the same streams of a few orders through the Django test client, which runs the same middleware
    and view as gunicorn (the server cannot count its own queries without a debug cursor)."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    rng = random.Random(20261123)
    shop_code = make_shop()
    client = Client()
    most: dict[str, int] = {}
    for n in range(20):
        for item in order_events(rng, shop_code, n):
            with CaptureQueriesContext(connection) as captured:
                post_in_process(client, item)
            most[item["type"]] = max(most.get(item["type"], 0), len(captured.captured_queries))
    ctx.log(f"events: queries per event, most of each type: {dict(sorted(most.items()))}")
    return most


def post_in_process(client, item: dict):
    """One event through the test client `client`, signed with this process's secret; its response."""
    from django.conf import settings

    from shop.signing import sign

    body = json.dumps(item, ensure_ascii=False).encode()
    timestamp = str(int(time.time()))
    headers = {
        "X-Platform-Timestamp": timestamp,
        "X-Platform-Signature": sign(body, timestamp, settings.PLATFORM_EVENTS_SECRET),
    }
    return client.post(PATH, data=body, content_type="application/json", headers=headers)


def make_shop() -> str:
    """A fresh shop, and the couriers and outlets the events name."""
    from shop import demo
    from shop.models import Courier, Outlet, Shop

    code = f"bench-events-{uuid.uuid4().hex[:8]}"
    Shop.objects.create(code=code, name=f"事件压测店 {code[-8:]}")
    couriers = {}
    for courier_code, name, online, offline, approval in demo.COURIERS:
        couriers[courier_code], _ = Courier.objects.get_or_create(
            code=courier_code,
            defaults={
                "name": name,
                "supports_online_interception": online,
                "supports_offline_settlement": offline,
                "outlet_approval_required": approval,
            },
        )
    for outlet_code, name, region, ewaybill in demo.OUTLETS:
        Outlet.objects.get_or_create(
            code=outlet_code,
            defaults={
                "courier": couriers[outlet_code.split("-")[0]],
                "name": name,
                "region": region,
                "uses_platform_ewaybill": ewaybill,
            },
        )
    return code


# --- the events ----------------------------------------------------------------------------------
def event(shop_code: str, type: str, at: datetime, data: dict) -> dict:
    return {"id": f"bench-{shop_code}-{uuid.uuid4().hex}", "type": type, "occurred_at": at.isoformat(), "data": data}


def order_events(rng: random.Random, shop_code: str, n: int) -> list[dict]:
    """One order's events, in the order the platform sends them."""
    from shop import demo

    token = shop_code[-8:].upper()
    order_no, tracking_no = f"BEV{token}{n:05d}", f"BEV{token}{n:07d}"
    outlet = rng.choice([code for code, *_rest in demo.OUTLETS if code.split("-")[0] in ("YTO", "JT", "ZTO")])
    courier = outlet.split("-")[0]
    paid_at = datetime.now(SHANGHAI) - timedelta(hours=rng.uniform(30, 60))
    lines = [
        {"line_no": str(i), "sku": f"SKU-{i}", "title": title, "category": category, "quantity": 1}
        | {"paid_amount": price, "domestic_physical": True}
        for i, (title, category, price) in enumerate(rng.sample(PRODUCTS, rng.choice([1, 1, 2])), start=1)
    ]
    buyer = {"id": f"bev-buyer-{rng.randint(1, 200)}", "nickname": "小王", "trusted": rng.random() < 0.3}
    paid = {"shop": shop_code, "order_no": order_no, "paid_at": paid_at.isoformat(), "buyer": buyer, "lines": lines}
    events = [event(shop_code, "order.paid", paid_at, paid)]
    at = paid_at + timedelta(hours=3)
    line_nos = [line["line_no"] for line in lines]
    events.append(
        event(
            shop_code,
            "parcel.shipped",
            at,
            {
                "order_no": order_no,
                "tracking_no": tracking_no,
                "courier": courier,
                "outlet": outlet,
                "line_nos": line_nos,
            },
        )
    )

    def status(name: str) -> dict:
        nonlocal at
        at += timedelta(hours=rng.uniform(2, 6))
        data = {"tracking_no": tracking_no, "courier": courier, "status": name, "at": at.isoformat(), "note": ""}
        return event(shop_code, "parcel.status", at, data)

    def applied(after_sale_no: str, line: dict, type: str, reason: str) -> dict:
        data = {"after_sale_no": after_sale_no, "order_no": order_no, "line_no": line["line_no"], "type": type}
        data |= {"reason": reason, "amount": line["paid_amount"], "note": ""}
        return event(shop_code, "aftersale.applied", at + timedelta(minutes=30), data)

    events.append(status("in_transit"))
    ending = rng.choices(["signed", "refused", "out_for_delivery"], weights=[60, 25, 15])[0]
    first = f"BEVA{token}{n:05d}"
    if ending != "signed" or rng.random() < 0.3:  # "not received": refund after refusal is agreed
        events.append(applied(first, lines[0], "refund_only", "not_received"))
        if rng.random() < 0.15:
            withdrawn = event(shop_code, "aftersale.cancelled", at + timedelta(hours=1), {"after_sale_no": first})
            events.append(withdrawn)
    if ending == "out_for_delivery":
        events.append(status("out_for_delivery"))
    else:
        events.append(status("out_for_delivery"))
        events.append(status(ending))
        if ending == "signed" and len(lines) > 1:  # a return of the other line after sign-for
            second = f"BEVB{token}{n:05d}"
            events.append(applied(second, lines[1], "return_refund", "quality"))
            data = {"after_sale_no": second, "tracking_no": f"SF{token}{n:07d}", "courier": "SF"}
            events.append(event(shop_code, "aftersale.return_shipped", at + timedelta(hours=3), data))  # 409
    if rng.random() < 0.1:
        events.append(dict(events[-1]))  # re-delivered: answered duplicate
    if rng.random() < 0.1:
        events.append(dict(events[2], id=f"bench-{shop_code}-{uuid.uuid4().hex}"))  # late: moves nothing
    return events


# --- the clients ---------------------------------------------------------------------------------
def post_all(port: int, streams: list[list[dict]]) -> tuple[list[tuple[str, int, dict, float]], float]:
    """Post every stream's events in order, streams spread over CLIENTS threads.

    Returns ([(type, status, answer, seconds)], seconds for all).
    """
    secret = EVENTS_SECRET
    results: list[tuple[str, int, dict, float]] = []
    lock = threading.Lock()
    barrier = threading.Barrier(CLIENTS + 1)

    def client(i: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine = []
        barrier.wait()
        for stream in streams[i::CLIENTS]:
            for item in stream:
                mine.append((item["type"], *post(connection, item, secret)))
        connection.close()
        with lock:
            results.extend(mine)

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.monotonic()
    for thread in threads:
        thread.join()
    return results, time.monotonic() - started


def post(connection: http.client.HTTPConnection, item: dict, secret: str) -> tuple[int, dict, float]:
    from shop.signing import sign

    body = json.dumps(item, ensure_ascii=False).encode()
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "X-Platform-Timestamp": timestamp,
        "X-Platform-Signature": sign(body, timestamp, secret),
    }
    started = time.monotonic()
    for attempt in (1, 2):
        try:
            connection.request("POST", PATH, body=body, headers=headers)
            response = connection.getresponse()
            payload = response.read()
            break
        except (ConnectionError, http.client.HTTPException, OSError):
            connection.close()  # a kept-alive connection the server had closed: once more on a new one
            if attempt == 2:
                return 0, {"error": "connection failed"}, time.monotonic() - started
    elapsed = time.monotonic() - started
    try:
        answer = json.loads(payload)
    except ValueError:
        answer = {"error": payload[:100].decode(errors="replace")}
    return response.status, answer, elapsed


# --- the server ----------------------------------------------------------------------------------
class ServerDidNotStart(RuntimeError):
    pass


class Server:
    """gunicorn serving config.wsgi on a free loopback port, in its own process group."""

    def __init__(self, workers: int = WORKERS, env: dict[str, str] | None = None, name: str = "events"):
        self.workers = workers
        self.extra_env = env or {}  # e.g. the broker and queue of a cluster run
        self.name = name

    def __enter__(self) -> "Server":
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        env = (
            os.environ
            | {
                "DJANGO_SETTINGS_MODULE": "config.settings.prod",
                "DJANGO_SECRET_KEY": secrets.token_urlsafe(40),
                "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
                "DJANGO_SECURE_SSL_REDIRECT": "0",
                "DATABASE_URL": os.environ.get("DATABASE_URL", ""),
                "PLATFORM_EVENTS_SECRET": EVENTS_SECRET,
                "CARRIER_CALLBACK_SECRET": secrets.token_urlsafe(32),
                "LOG_LEVEL": "WARNING",
            }
            | self.extra_env
        )
        if not env["DATABASE_URL"]:
            raise RuntimeError("DATABASE_URL must name the scratch database the server is to use")
        command = [sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{self.port}"]
        command += ["--workers", str(self.workers), "--worker-class", WORKER_CLASS, "--log-level", "warning"]
        if WORKER_CLASS == "gthread":
            command += ["--threads", str(THREADS)]
        self.log = open(os.path.join(os.environ.get("TMPDIR", "/tmp"), f"bench_{self.name}_gunicorn.log"), "wb")
        started = time.monotonic()
        self.process = subprocess.Popen(
            command, cwd=BASE_DIR, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            self.wait_until_it_answers(timeout=STARTUP_TIMEOUT_S)
        except BaseException:
            self.stop()
            raise
        self.startup_s = time.monotonic() - started
        return self

    def describe(self) -> str:
        threads = f" × {THREADS} threads" if WORKER_CLASS == "gthread" else ""
        return f"{self.workers} {WORKER_CLASS} workers{threads}"

    def wait_until_it_answers(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerDidNotStart(f"gunicorn exited with {self.process.returncode}; see {self.log.name}")
            try:
                # A busy machine answers the first request late: a short timeout gives up on a server that is up.
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=15)
                connection.request("POST", PATH, body=b"{}", headers={"Content-Type": "application/json"})
                status = connection.getresponse().status
                connection.close()
                if status == 401:  # unsigned: the app itself answered
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise ServerDidNotStart(f"gunicorn did not answer within {timeout:.0f} s; see {self.log.name}")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)  # gunicorn's own group: the arbiter and its workers
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.log.close()

    def __exit__(self, *exc) -> None:
        self.stop()
