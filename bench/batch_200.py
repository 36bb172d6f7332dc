"""How long does a bulk interception of 200 parcels take with the simulated carrier and one worker?

Creates a shop with N (default 200) refund-only after-sales on parcels in transit, starts
`manage.py qcluster` with Q_WORKERS workers (default 1, ORM broker) as a subprocess, waits until the
cluster runs a first task, then launches the after-sales as ONE batch through
`interception.services.create_batch` (what the preview's "confirm" does) and polls the database
until every service order of the batch has its result. Prints the seconds from confirm to the last
result, where the time went, then stops the cluster.

Run it on a scratch database only (it migrates it and writes to it), never on var/db.sqlite3:

    DJANGO_SETTINGS_MODULE=config.settings.dev DATABASE_URL=sqlite:////tmp/bench_batch.sqlite3 \\
        .venv/bin/python bench/batch_200.py

    createdb -h 127.0.0.1 -U postgres bench_batch
    DJANGO_SETTINGS_MODULE=config.settings.dev DATABASE_URL=postgres://postgres@127.0.0.1/bench_batch \\
        .venv/bin/python bench/batch_200.py
    dropdb -h 127.0.0.1 -U postgres bench_batch

Options: --parcels N, --workers N, --latency SECONDS (the simulated carrier's, default
CARRIER_SIMULATED_LATENCY, i.e. 0.2 s), --timeout SECONDS. Each run makes a new shop, so the same
scratch database can be used again. The cluster's output goes to /tmp/bench_batch_qcluster.log.

Measured on a shared 2-CPU machine (200 parcels, latency 0.2 s, one worker): about 60 s on SQLite
and 60–75 s on PostgreSQL from confirm to the last result, against a 40 s floor (200 × 0.2 s in
series). The rest: ~75–100 ms between two carrier calls (the result transaction, ~50 queries,
then django-q's save/ack/dequeue), and 3–5 s of confirm (launch_interceptions runs the pre-check
per after-sale under its locks, then the 200 OrmQ inserts on commit). The 200 buyer-notification
tasks the refunds queue run after the carrier tasks, 6–12 s more. Four workers: about 21 s.
"""

import argparse
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from statistics import median
from unittest import mock

BASE_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")
CLUSTER_LOG = Path(os.environ.get("TMPDIR", "/tmp")) / "bench_batch_qcluster.log"


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parcels", type=int, default=200)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--latency", type=float, default=None, help="simulated carrier latency (s)")
    parser.add_argument("--timeout", type=float, default=900.0, help="give up after this many seconds")
    return parser.parse_args()


def refuse_the_dev_database() -> None:
    url = os.environ.get("DATABASE_URL", "")
    if not url:
        sys.exit("Set DATABASE_URL to a scratch database (sqlite under /tmp, or postgres://…/bench_batch).")
    if url.startswith("sqlite") and Path(url.split(":///", 1)[-1]).resolve() == (BASE_DIR / "var" / "db.sqlite3"):
        sys.exit("Refusing to run on the development database var/db.sqlite3: use a scratch one.")


def make_shop(run: str, parcels: int):
    """A shop, an owner, and `parcels` orders each with one in-transit parcel and a refund-only request."""
    from django.db import transaction
    from django.utils import timezone

    from aftersales import notifications
    from aftersales import services as aftersales_services
    from aftersales.models import AfterSale, BuyerNotification
    from shop.models import Buyer, Courier, Order, OrderLine, Outlet, Parcel, Shop, TrackingEvent, User

    now = timezone.now()
    courier, _ = Courier.objects.get_or_create(
        code="YTO", defaults={"name": "圆通速递", "supports_online_interception": True}
    )
    outlet, _ = Outlet.objects.get_or_create(
        code="YTO-BENCH-001",
        defaults={"courier": courier, "name": "圆通压测网点", "region": "上海", "uses_platform_ewaybill": True},
    )
    shop = Shop.objects.create(code=f"bench-{run}", name=f"压测小店 {run}")
    owner = User.objects.create_user(
        username=f"bench-{run}", password=None, kind="merchant", shop=shop, shop_role="owner"
    )
    buyers = Buyer.objects.bulk_create(
        Buyer(external_id=f"bench-{run}-buyer-{i:04d}", nickname=f"买家{i}") for i in range(parcels)
    )
    paid_at, shipped_at = now - timedelta(days=2), now - timedelta(days=1)
    orders = Order.objects.bulk_create(
        Order(
            shop=shop,
            buyer=buyer,
            order_no=f"BO-{run}-{i:04d}",
            status=Order.Status.SHIPPED,
            paid_amount=Decimal("89.00"),
            paid_at=paid_at,
        )
        for i, buyer in enumerate(buyers)
    )
    lines = OrderLine.objects.bulk_create(
        OrderLine(
            order=order, line_no="1", title="304不锈钢保温杯", category="home", quantity=1, paid_amount=Decimal("89.00")
        )
        for order in orders
    )
    parcel_rows = Parcel.objects.bulk_create(
        Parcel(
            order=order,
            courier=courier,
            outlet=outlet,
            tracking_no=f"YT{run}{i:05d}",
            status=Parcel.Status.IN_TRANSIT,
            status_at=shipped_at + timedelta(hours=6),
            shipped_at=shipped_at,
        )
        for i, order in enumerate(orders)
    )
    Parcel.lines.through.objects.bulk_create(
        Parcel.lines.through(parcel_id=parcel.pk, orderline_id=line.pk)
        for parcel, line in zip(parcel_rows, lines, strict=True)
    )
    TrackingEvent.objects.bulk_create(
        TrackingEvent(parcel=parcel, status=status, at=at)
        for parcel in parcel_rows
        for status, at in (("collected", shipped_at), ("in_transit", shipped_at + timedelta(hours=6)))
    )
    # The buyers' applications go through the real service (deadlines, logs, refund-after-refusal);
    # their "please refuse the parcel" notifications count as sent long ago: nothing queued.
    with mock.patch.object(notifications, "_enqueue", lambda notification: None):
        for i, order in enumerate(orders):
            with transaction.atomic():
                aftersales_services.apply_for_after_sale(
                    after_sale_no=f"AS-B-{run}-{i:04d}",
                    order_no=order.order_no,
                    line_no="1",
                    type=AfterSale.Type.REFUND_ONLY,
                    reason=AfterSale.Reason.NOT_RECEIVED,
                    amount=Decimal("89.00"),
                    note="一直没收到",
                    at=now - timedelta(hours=3),
                )
    BuyerNotification.objects.filter(shop=shop, status="pending").update(status="skipped")
    ids = list(AfterSale.objects.filter(shop=shop).order_by("pk").values_list("pk", flat=True))
    return shop, owner, ids


def start_cluster(workers: int, latency: float) -> subprocess.Popen:
    env = {**os.environ, "Q_WORKERS": str(workers), "CARRIER_SIMULATED_LATENCY": str(latency)}
    log = open(CLUSTER_LOG, "w")  # noqa: SIM115 (closed with the process)
    return subprocess.Popen(
        [sys.executable, str(BASE_DIR / "manage.py"), "qcluster"],
        cwd=BASE_DIR,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: stopped as a whole, nothing else touched
    )


def stop_cluster(cluster: subprocess.Popen) -> None:
    if cluster.poll() is not None:
        return
    cluster.send_signal(signal.SIGTERM)  # qcluster stops its pusher, workers and monitor itself
    try:
        cluster.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(cluster.pid, signal.SIGKILL)  # the group this script created, and only it
        cluster.wait()


def wait_for_first_task(cluster: subprocess.Popen, timeout: float = 120.0) -> float:
    """Queue a no-op and wait for its result: the cluster is up and its worker has run a task."""
    from django_q.models import Task
    from django_q.tasks import async_task

    started = time.monotonic()
    task_id = async_task("math.sqrt", 4.0)
    while not Task.objects.filter(id=task_id).exists():
        if cluster.poll() is not None:
            sys.exit(f"qcluster exited with {cluster.returncode}; see {CLUSTER_LOG}")
        if time.monotonic() - started > timeout:
            sys.exit(f"qcluster did not run a task within {timeout:.0f} s; see {CLUSTER_LOG}")
        time.sleep(0.1)
    return time.monotonic() - started


def main() -> None:
    args = parse_args()
    refuse_the_dev_database()
    import django

    django.setup()
    import logging

    logging.getLogger("django-q").setLevel(logging.WARNING)  # its logger: no "Enqueued …" line per task
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.db.models import Count, Max, Min
    from django.utils import timezone
    from django_q.models import OrmQ

    from interception import services
    from interception.models import ServiceOrder, ServiceOrderLog

    latency = settings.CARRIER_SIMULATED_LATENCY if args.latency is None else args.latency
    call_command("migrate", verbosity=0)
    run = timezone.now().strftime("%m%d%H%M%S")
    print(f"database: {connection.vendor} ({connection.settings_dict['NAME']})")
    print(f"parcels: {args.parcels}, workers: {args.workers}, simulated latency: {latency} s")

    setup_started = time.monotonic()
    shop, owner, after_sale_ids = make_shop(run, args.parcels)
    print(f"setup: {len(after_sale_ids)} after-sales in {time.monotonic() - setup_started:.1f} s")
    stale = OrmQ.objects.count()
    if stale:
        print(f"note: {stale} task(s) already queued in this database: the worker runs them too")

    cluster = start_cluster(args.workers, latency)
    try:
        warmup = wait_for_first_task(cluster)
        print(f"cluster up, first no-op task done after {warmup:.1f} s")

        confirmed_at = timezone.now()
        t0 = time.monotonic()
        batch = services.create_batch(shop=shop, user=owner, via="bulk", after_sale_ids=after_sale_ids, skipped=[])
        committed = time.monotonic() - t0
        orders = ServiceOrder.objects.filter(batch=batch)
        total = orders.count()
        print(f"confirm: batch {batch.pk} with {total} service orders committed and queued in {committed:.2f} s")

        last_print, seen_done = t0, 0.0
        while True:
            pending = orders.filter(status__in=ServiceOrder.PENDING_STATUSES).count()
            now = time.monotonic()
            if pending == 0:
                seen_done = now - t0
                break
            if now - last_print >= 5:
                print(f"  {now - t0:6.1f} s: {total - pending}/{total} done, {OrmQ.objects.count()} task(s) queued")
                last_print = now
            if now - t0 > args.timeout:
                print(f"gave up after {args.timeout:.0f} s with {pending} pending")
                break
            time.sleep(0.1)

        # The success refunds queued one buyer notification each: how long until the queue is empty.
        drain_started = time.monotonic()
        while OrmQ.objects.exists() and time.monotonic() - drain_started < 120:
            time.sleep(0.1)
        drained = time.monotonic() - t0

        results = orders.aggregate(first=Min("result_at"), last=Max("result_at"))
        by_status = dict(orders.values_list("status").annotate(n=Count("pk")).values_list("status", "n"))
        # Per service order: the task's start (the "sent to the carrier" log) and its result.
        starts = dict(
            ServiceOrderLog.objects.filter(service_order__batch=batch, to_status="processing").values_list(
                "service_order_id", "at"
            )
        )
        spans = sorted((starts[o.pk], o.result_at) for o in orders if o.pk in starts and o.result_at)
        task_seconds = [(end - start).total_seconds() for start, end in spans]
        gaps = [(b[0] - a[1]).total_seconds() for a, b in zip(spans, spans[1:], strict=False)]
    finally:
        stop_cluster(cluster)

    if not results["last"]:
        sys.exit("no result arrived")
    to_last = (results["last"] - confirmed_at).total_seconds()
    to_first = (results["first"] - confirmed_at).total_seconds()
    print()
    print(f"results: {by_status}")
    print(
        f"CONFIRM → LAST RESULT: {to_last:.1f} s   (first result after {to_first:.2f} s; poller saw all done at "
        f"{seen_done:.1f} s; queue empty, notifications included, at {drained:.1f} s)"
    )
    print(
        f"throughput: {total / to_last:.2f} parcels/s; floor with this latency: "
        f"{total * latency / args.workers:.1f} s ({total} × {latency} s / {args.workers} worker(s))"
    )
    if task_seconds:
        busy = sum(task_seconds)
        print(
            f"carrier task (start → result): median {median(task_seconds) * 1000:.0f} ms, "
            f"max {max(task_seconds) * 1000:.0f} ms, sum {busy:.1f} s = {100 * busy / to_last:.0f}% of the elapsed time"
        )
    if gaps and args.workers == 1:
        print(
            f"between two carrier tasks: median {median(gaps) * 1000:.0f} ms, max {max(gaps) * 1000:.0f} ms "
            "(the result's own transaction — refund, fee, parcel, logs — then django-q's per-task round trip)"
        )


if __name__ == "__main__":
    main()
