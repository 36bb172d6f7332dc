"""The scale-out run on one machine: two web processes and two workers under mixed load, nothing lost.

Starts, on the Redis broker ($REDIS_URL, else redis://127.0.0.1:6379/0) and one queue of its own:

- 2 gunicorn processes (2 sync workers each, production settings minus the HTTPS redirect) on two
  loopback ports, the way two web machines sit behind a load balancer;
- 2 `manage.py qcluster` processes (1 worker each), the way two worker machines share a queue.

Then, all at the same time:

- 10 000 signed platform events (bench/events.py's order streams of a fresh shop), from 8 client
  threads spread over both web processes;
- a 1 000-parcel bulk interception (bench/intercept.py's shop, launched as one batch as the
  preview's confirm does), whose carrier calls, results, refunds and buyer notifications the two
  workers share;
- a merchant reading the workbench of the million-after-sale scale shop through the web processes,
  in turns, until the rest is done.

Afterwards it checks that nothing was lost or done twice:

- events: every one answered 200 (applied or duplicate) or 409, none 5xx or unanswered; every
  "applied" answer stored exactly once;
- parcels: one service order per after-sale, none pending;
- refunds: one ledger row per succeeded interception, none for another outcome;
- notifications: one "refunded" buyer notification per refund, none left pending;
- the workbench: every read 200.

and reports throughput and p95 of each. A lost or duplicated item or a 5xx fails the part.
"""

import http.client
import os
import random
import secrets
import subprocess
import sys
import threading
import time
from collections import Counter
from contextlib import ExitStack
from importlib import import_module

from bench import events as events_part
from bench import intercept as intercept_part
from bench.common import BASE_DIR, Context, percentile

WEB_PROCESSES, WEB_WORKERS = 2, 2
WORKER_PROCESSES = 2
EVENTS, QUICK_EVENTS = 10_000, 1_000
PARCELS, QUICK_PARCELS = 1_000, 100
CLIENTS = 8
TIMEOUT_SECONDS = 900.0


def run(ctx: Context) -> dict:
    from django.conf import settings
    from django.utils import timezone

    intercept_part.refuse_the_dev_database()
    redis_url = intercept_part.REDIS_URL
    want_events = QUICK_EVENTS if ctx.quick else EVENTS
    parcels = QUICK_PARCELS if ctx.quick else PARCELS
    tag = f"{timezone.now():%m%d%H%M%S}c"
    queue = f"bench-cluster-{tag}"
    secret_key = secrets.token_urlsafe(40)
    rng = random.Random(20261202)
    events_shop = events_part.make_shop()
    streams, total = [], 0
    while total < want_events:
        stream = events_part.order_events(rng, events_shop, len(streams))
        streams.append(stream)
        total += len(stream)
    ctx.log(f"cluster: {total} events of {len(streams)} orders (shop {events_shop})")
    shop, owner, after_sale_ids = intercept_part.make_shop(tag, parcels)
    ctx.log(f"cluster: shop {shop.code} with {parcels} refund-only after-sales on parcels in transit")
    session_cookie = merchant_session(ctx.user_id, secret_key)

    server_env = {"DJANGO_SECRET_KEY": secret_key, "Q_NAME": queue, "REDIS_URL": redis_url}
    collect_static(server_env)
    with ExitStack() as stack:
        stack.enter_context(intercept_part.cluster_conf(queue, redis_url))
        stack.callback(intercept_part.flush_queue, queue, redis_url)
        workers = []
        for n in range(WORKER_PROCESSES):
            latency = settings.CARRIER_SIMULATED_LATENCY
            worker = intercept_part.start_cluster(queue, workers=1, latency=latency, redis_url=redis_url, log=f"c{n}")
            stack.callback(intercept_part.stop_cluster, worker)
            workers.append(worker)
        servers = [
            stack.enter_context(events_part.Server(workers=WEB_WORKERS, env=server_env, name=f"cluster{n}"))
            for n in range(WEB_PROCESSES)
        ]
        ports = [server.port for server in servers]
        ctx.log(f"cluster: gunicorn on {ports}, {WORKER_PROCESSES} qclusters on queue {queue}")
        for n, worker in enumerate(workers):
            intercept_part.wait_for_first_task(worker, log=f"c{n}")

        done = threading.Event()
        reads: list[tuple[int, float]] = []
        paths = workbench_paths()
        reader = threading.Thread(target=read_workbench, args=(ports, paths, session_cookie, reads, done), daemon=True)
        event_results: dict = {}
        poster = threading.Thread(target=post_events, args=(ports, streams, event_results), daemon=True)
        started = time.monotonic()
        reader.start()
        poster.start()

        from interception import services
        from interception.models import ServiceOrder

        confirmed_at = timezone.now()
        batch = services.create_batch(shop=shop, user=owner, via="bulk", after_sale_ids=after_sale_ids, skipped=[])
        orders = ServiceOrder.objects.filter(batch=batch)
        while orders.filter(status__in=ServiceOrder.PENDING_STATUSES).exists():
            if time.monotonic() - started > TIMEOUT_SECONDS:
                break
            time.sleep(0.2)
        intercept_s = time.monotonic() - started
        poster.join(timeout=max(1.0, TIMEOUT_SECONDS - (time.monotonic() - started)))
        notifications_s = wait_for_notifications(shop, started)
        done.set()
        reader.join(timeout=60)
        elapsed = time.monotonic() - started

    figures, problems = check(ctx, events_shop, event_results, shop, after_sale_ids, batch, reads)
    figures |= {
        "cluster_elapsed_s": round(elapsed, 1),
        "cluster_intercept_s": round(intercept_s, 1),
        "cluster_notifications_s": round(notifications_s, 1),
        "cluster_events_per_s": round(event_results["sent"] / event_results["elapsed"], 1),
    }
    ctx.notes.append(
        f"cluster: {WEB_PROCESSES} gunicorn × {WEB_WORKERS} workers and {WORKER_PROCESSES} qclusters on Redis; "
        f"{event_results['sent']} events ({dict(sorted(event_results['outcomes'].items()))}), a {parcels}-parcel "
        f"interception (last result {intercept_s:.1f} s, last notification {notifications_s:.1f} s after confirm at "
        f"{confirmed_at:%H:%M:%S}) and {len(reads)} workbench reads at once; lost {figures['cluster_lost']}, "
        f"duplicated {figures['cluster_duplicated']}, 5xx {figures['cluster_5xx']}"
    )
    if problems:
        raise AssertionError("cluster: " + "; ".join(problems))
    return figures


def collect_static(server_env: dict[str, str]) -> None:
    """What a deploy does before starting the web processes: the pages need the static manifest."""
    env = (
        os.environ
        | {
            "DJANGO_SETTINGS_MODULE": "config.settings.prod",
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
            "PLATFORM_EVENTS_SECRET": secrets.token_urlsafe(32),
            "CARRIER_CALLBACK_SECRET": secrets.token_urlsafe(32),
        }
        | server_env
    )
    command = [sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"]
    subprocess.run(command, cwd=BASE_DIR, env=env, check=True)


def merchant_session(user_id: int, secret_key: str) -> str:
    """A logged-in session of the scale shop's merchant, signed with the web processes' secret key."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.test.utils import override_settings

    from shop.models import User

    user = User.objects.get(pk=user_id)
    with override_settings(SECRET_KEY=secret_key):
        session = import_module(settings.SESSION_ENGINE).SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = "shop.backends.ShopModelBackend"
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.create()
        return f"{settings.SESSION_COOKIE_NAME}={session.session_key}"


def post_events(ports: list[int], streams: list[list[dict]], out: dict) -> None:
    """Each order's events in order, orders spread over CLIENTS threads and the threads over the ports."""
    results: list[tuple[str, int, dict, float]] = []
    lock = threading.Lock()

    def client(i: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", ports[i % len(ports)], timeout=60)
        mine = [
            (item["type"], *events_part.post(connection, item, events_part.EVENTS_SECRET))
            for stream in streams[i::CLIENTS]
            for item in stream
        ]
        connection.close()
        with lock:
            results.extend(mine)

    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    out["elapsed"] = time.monotonic() - started
    out["sent"] = len(results)
    out["results"] = results
    out["outcomes"] = Counter(
        f"{status} {body.get('result') or body.get('code') or body.get('error', '')}"
        for _type, status, body, _latency in results
    )


def workbench_paths() -> list[str]:
    """The workbench's first page, then each quick view, as the merchant clicks them."""
    from django.urls import reverse

    from aftersales.filters import QUICK_VIEWS

    url = reverse("aftersales:workbench")
    return [url] + [f"{url}?{view.query}" for view in QUICK_VIEWS]


def read_workbench(ports: list[int], paths: list[str], cookie: str, out: list, done: threading.Event) -> None:
    """The merchant's workbench through the web processes in turns, until the rest is done."""
    n = 0
    while not done.is_set():
        port, path = ports[n % len(ports)], paths[n % len(paths)]
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        started = time.monotonic()
        try:
            connection.request("GET", path, headers={"Cookie": cookie, "Accept-Language": "zh-CN"})
            response = connection.getresponse()
            response.read()
            status = response.status
        except (OSError, http.client.HTTPException):
            status = 0
        finally:
            connection.close()
        out.append((status, time.monotonic() - started))
        n += 1
        time.sleep(0.05)


def wait_for_notifications(shop, started: float) -> float:
    from aftersales.models import BuyerNotification

    pending = BuyerNotification.objects.filter(shop=shop, status=BuyerNotification.Status.PENDING)
    while pending.exists() and time.monotonic() - started < TIMEOUT_SECONDS:
        time.sleep(0.2)
    return time.monotonic() - started


def check(ctx, events_shop, event_results, shop, after_sale_ids, batch, reads) -> tuple[dict, list[str]]:
    """Lost, duplicated and 5xx, counted from the database against what was sent and answered."""
    from django.db.models import Count

    from aftersales.models import BuyerNotification, RefundEntry
    from interception.models import ServiceOrder
    from shop.models import PlatformEvent

    problems, lost, duplicated = [], 0, 0
    results = event_results.get("results", [])
    sent_total = sum(1 for _ in results)
    server_errors = sum(1 for _t, status, _b, _l in results if status >= 500 or status == 0)
    unexpected = sum(1 for _t, status, _b, _l in results if status not in (200, 409) and 0 < status < 500)
    applied = event_results.get("outcomes", Counter()).get("200 applied", 0)
    stored = PlatformEvent.objects.filter(event_id__startswith=f"bench-{events_shop}-").count()
    if stored < applied:
        lost += applied - stored
        problems.append(f"{applied} events answered applied, {stored} stored")
    if stored > applied:
        duplicated += stored - applied
        problems.append(f"{stored} events stored, {applied} answered applied")
    if unexpected:
        problems.append(f"{unexpected} events answered neither 200 nor 409")

    orders = ServiceOrder.objects.filter(batch=batch)
    per_after_sale = Counter(orders.values_list("after_sale_id", flat=True))
    lost += sum(1 for pk in after_sale_ids if pk not in per_after_sale)
    duplicated += sum(n - 1 for n in per_after_sale.values() if n > 1)
    pending = orders.filter(status__in=ServiceOrder.PENDING_STATUSES).count()
    lost += pending
    succeeded = set(orders.filter(status=ServiceOrder.Status.SUCCEEDED).values_list("after_sale_id", flat=True))

    refunds = Counter(RefundEntry.objects.filter(shop=shop).values_list("after_sale_id", flat=True))
    lost += len(succeeded - set(refunds))
    duplicated += sum(n - 1 for n in refunds.values() if n > 1)
    refunded_elsewhere = len(set(refunds) - succeeded)
    if refunded_elsewhere:
        problems.append(f"{refunded_elsewhere} after-sales refunded without a succeeded interception")

    notified = dict(
        BuyerNotification.objects.filter(shop=shop, kind=BuyerNotification.Kind.REFUNDED)
        .values_list("after_sale_id")
        .annotate(n=Count("pk"))
        .values_list("after_sale_id", "n")
    )
    lost += len(set(refunds) - set(notified))
    duplicated += sum(n - 1 for n in notified.values() if n > 1)
    left_pending = BuyerNotification.objects.filter(shop=shop, status=BuyerNotification.Status.PENDING).count()
    if left_pending:
        problems.append(f"{left_pending} buyer notifications still pending")

    read_errors = sum(1 for status, _s in reads if status != 200)
    server_errors += read_errors
    if lost:
        problems.append(f"{lost} lost")
    if duplicated:
        problems.append(f"{duplicated} duplicated")
    if server_errors:
        statuses = dict(Counter(status for status, _s in reads))
        problems.append(f"{server_errors} 5xx or unanswered (workbench reads by status: {statuses})")
    latencies = [latency for _t, _s, _b, latency in results] or [0.0]
    read_times = [seconds for _status, seconds in reads] or [0.0]
    ctx.log(
        f"cluster: events {sent_total} ({dict(sorted(event_results.get('outcomes', {}).items()))}); "
        f"parcels {len(per_after_sale)}/{len(after_sale_ids)}, succeeded {len(succeeded)}, "
        f"refunds {sum(refunds.values())}, "
        f"notifications {sum(notified.values())}; workbench reads {len(reads)}"
    )
    return {
        "cluster_lost": lost,
        "cluster_duplicated": duplicated,
        "cluster_5xx": server_errors,
        "cluster_events_sent": sent_total,
        "cluster_events_p95_ms": round(percentile(latencies, 95) * 1000, 1),
        "cluster_parcels": len(per_after_sale),
        "cluster_refunds": sum(refunds.values()),
        "cluster_workbench_reads": len(reads),
        "cluster_workbench_p95_ms": round(percentile(read_times, 95) * 1000, 1),
    }, problems
