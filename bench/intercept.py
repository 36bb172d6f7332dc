"""How long does a bulk interception of 1 000 parcels take with the simulated carrier?

Twice, each time with a fresh shop of refund-only after-sales on parcels in transit and a
`manage.py qcluster` of its own started as a subprocess (its own queue: Q_NAME, see settings):

1. ORM broker, one worker (Q_WORKERS=1): the target, under 30 s;
2. Redis broker ($REDIS_URL, else redis://127.0.0.1:6379/0), two workers: the scale-out path, under 15 s.

Each time, once the cluster has run a first no-op task, the after-sales are launched as ONE batch
through `interception.services.create_batch` (what the preview's "confirm" does), and the clock runs
from confirm to the last result applied (the service orders' latest `updated_at`). The buyer
notifications the refunds queue (one delivery task per chunk) are timed too, to the last one sent
(no pending one left: `bulk_intercept_notifications_*`, with its own target).

As a part of `make bench`: `run(ctx)` (quick: 100 parcels, still reported under the 1000 key: the
harness marks quick runs). Standalone, on a scratch database only (it writes to it):

    createdb -h 127.0.0.1 -U postgres bench_icpt
    export DJANGO_SETTINGS_MODULE=config.settings.dev DATABASE_URL=postgres://postgres@127.0.0.1/bench_icpt
    .venv/bin/python manage.py migrate
    .venv/bin/python -m bench.intercept [--parcels N] [--phase orm|redis|both] [--latency S]

The clusters' output goes to $TMPDIR/bench_intercept_<phase>.log.
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

from bench.common import BASE_DIR, Context

PARCELS = 1000  # the figure: the result keys say 1000, so change both together
QUICK_PARCELS = 100
REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"  # the second run's broker
TIMEOUT_SECONDS = 600.0
LOG_DIR = Path(os.environ.get("TMPDIR", "/tmp"))


def run(ctx: Context) -> dict:
    refuse_the_dev_database()
    parcels = QUICK_PARCELS if ctx.quick else PARCELS
    orm = measure(ctx, parcels=parcels, workers=1, redis_url=None)
    redis = measure(ctx, parcels=parcels, workers=2, redis_url=REDIS_URL)
    ctx.notes.append(
        f"bulk interception of {parcels} parcels, simulated carrier {orm['latency']} s a call, "
        f"{orm['concurrency']} calls at once per worker: ORM broker 1 worker {orm['to_last']:.1f} s, "
        f"Redis 2 workers {redis['to_last']:.1f} s from confirm to the last result; the buyer notifications "
        f"queued by the refunds done {orm['notifications']:.1f} s / {redis['notifications']:.1f} s after confirm."
    )
    return {
        "bulk_intercept_1000_s": round(orm["to_last"], 2),
        "bulk_intercept_1000_redis_2w_s": round(redis["to_last"], 2),
        "bulk_intercept_confirm_s": round(orm["confirm"], 3),
        "bulk_intercept_confirm_redis_s": round(redis["confirm"], 3),
        "bulk_intercept_parcels": parcels,
        "bulk_intercept_failed": orm["not_succeeded"],
        "bulk_intercept_redis_2w_failed": redis["not_succeeded"],
        "bulk_intercept_notifications_s": round(orm["notifications"], 2),
        "bulk_intercept_notifications_redis_2w_s": round(redis["notifications"], 2),
    }


def refuse_the_dev_database() -> None:
    from django.db import connection

    name = str(connection.settings_dict["NAME"])
    if connection.vendor == "sqlite" and Path(name).resolve() == (BASE_DIR / "var" / "db.sqlite3").resolve():
        raise RuntimeError("Refusing to run on the development database var/db.sqlite3: use a scratch one.")


def measure(ctx: Context, *, parcels: int, workers: int, redis_url: str | None, latency: float | None = None) -> dict:
    """One timed bulk interception on a cluster of its own; what it measured, in seconds."""
    from django.conf import settings
    from django.db.models import Count, Max, Min
    from django.utils import timezone

    from aftersales.models import BuyerNotification
    from interception import services
    from interception.models import ServiceOrder, ServiceOrderLog

    latency = settings.CARRIER_SIMULATED_LATENCY if latency is None else latency
    broker = "redis" if redis_url else "orm"
    tag = f"{timezone.now():%m%d%H%M%S}{broker[0]}"
    ctx.log(f"intercept[{broker}]: making a shop with {parcels} refund-only after-sales on parcels in transit")
    setup_started = time.monotonic()
    shop, owner, after_sale_ids = make_shop(tag, parcels)
    ctx.log(f"intercept[{broker}]: shop ready in {time.monotonic() - setup_started:.1f} s")

    queue = f"bench-icpt-{tag}"  # this cluster's queue only: nothing else's tasks run, nothing else's is flushed
    with cluster_conf(queue, redis_url):
        cluster = start_cluster(queue, workers=workers, latency=latency, redis_url=redis_url, log=broker)
        try:
            warmup = wait_for_first_task(cluster, log=broker)
            ctx.log(f"intercept[{broker}]: {workers} worker(s) up, first no-op task done after {warmup:.1f} s")

            confirmed_at = timezone.now()
            t0 = time.monotonic()
            batch = services.create_batch(shop=shop, user=owner, via="bulk", after_sale_ids=after_sale_ids, skipped=[])
            confirm = time.monotonic() - t0
            orders = ServiceOrder.objects.filter(batch=batch)
            total = orders.count()
            ctx.log(f"intercept[{broker}]: confirm: {total} service orders committed and queued in {confirm:.2f} s")

            last_print = t0
            while (pending := orders.filter(status__in=ServiceOrder.PENDING_STATUSES).count()) and (
                time.monotonic() - t0 < TIMEOUT_SECONDS
            ):
                if time.monotonic() - last_print >= 10:
                    ctx.log(f"intercept[{broker}]: {time.monotonic() - t0:6.1f} s: {total - pending}/{total} done")
                    last_print = time.monotonic()
                time.sleep(0.1)
            seen_done = time.monotonic() - t0
            notifications = BuyerNotification.objects.filter(shop=shop, status=BuyerNotification.Status.PENDING)
            while notifications.exists() and time.monotonic() - t0 < TIMEOUT_SECONDS:
                time.sleep(0.1)
            drained = time.monotonic() - t0
        finally:
            stop_cluster(cluster)
            flush_queue(queue, redis_url)

    times = orders.aggregate(first=Min("result_at"), last=Max("updated_at"))
    by_status = dict(orders.values_list("status").annotate(n=Count("pk")).values_list("status", "n"))
    if pending or not times["last"]:
        raise RuntimeError(f"intercept[{broker}]: {pending} of {total} still pending after {TIMEOUT_SECONDS:.0f} s")
    to_last = (times["last"] - confirmed_at).total_seconds()
    # A chunk task logs "sent to the carrier" for all its service orders at one time: its start.
    sent = ServiceOrderLog.objects.filter(service_order__batch=batch, to_status=ServiceOrder.Status.PROCESSING)
    starts = sorted(set(sent.values_list("at", flat=True)))
    gaps = [(b - a).total_seconds() for a, b in zip(starts, starts[1:], strict=False)]
    ctx.log(
        f"intercept[{broker}]: {by_status}; confirm → last result {to_last:.1f} s (first after "
        f"{(times['first'] - confirmed_at).total_seconds():.2f} s, poller saw all done at {seen_done:.1f} s, "
        f"notifications done at {drained:.1f} s); {total * latency / workers:.0f} s in series; "
        f"{len(starts)} carrier task(s), median {median(gaps) if gaps else 0:.2f} s from one's start to the next's"
    )
    return {
        "to_last": to_last,
        "confirm": confirm,
        "notifications": drained,
        "not_succeeded": total - by_status.get(ServiceOrder.Status.SUCCEEDED, 0) + (len(after_sale_ids) - total),
        "latency": latency,
        "concurrency": settings.CARRIER_CONCURRENCY,
    }


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


class cluster_conf:  # noqa: N801 (a context manager, read as a clause)
    """Point this process's django-q2 at the cluster's queue and broker while the cluster runs.

    django-q2 reads Q_CLUSTER once into `Conf`: the benchmark, which enqueues the tasks (confirm), must
    use the same queue name (also the signing salt) and broker as the subprocess it started.
    """

    def __init__(self, queue: str, redis_url: str | None):
        from django_q.conf import Conf

        values = {"PREFIX": queue, "CLUSTER_NAME": queue}
        values |= {"ORM": None, "REDIS": redis_url, "DJANGO_REDIS": None} if redis_url else {"ORM": "default"}
        self.patch = mock.patch.multiple(Conf, **values)

    def __enter__(self):
        self.patch.start()

    def __exit__(self, *exc):
        self.patch.stop()


def start_cluster(queue: str, *, workers: int, latency: float, redis_url: str | None, log: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "Q_NAME": queue,
        "Q_WORKERS": str(workers),
        "CARRIER_SIMULATED_LATENCY": str(latency),
        "LOG_LEVEL": "WARNING",
    }
    env.pop("REDIS_URL", None)
    if redis_url:
        env["REDIS_URL"] = redis_url
    output = open(LOG_DIR / f"bench_intercept_{log}.log", "w")  # noqa: SIM115 (closed with the process)
    return subprocess.Popen(
        [sys.executable, str(BASE_DIR / "manage.py"), "qcluster"],
        cwd=BASE_DIR,
        env=env,
        stdout=output,
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
        os.killpg(cluster.pid, signal.SIGKILL)  # the group this benchmark created, and only it
        cluster.wait()


def wait_for_first_task(cluster: subprocess.Popen, *, log: str, timeout: float = 120.0) -> float:
    """Queue a no-op and wait for its result: the cluster is up and its worker has run a task."""
    from django_q.models import Task
    from django_q.tasks import async_task

    started = time.monotonic()
    task_id = async_task("math.sqrt", 4.0)
    while not Task.objects.filter(id=task_id).exists():
        if cluster.poll() is not None:
            raise RuntimeError(f"qcluster exited with {cluster.returncode}; see {LOG_DIR}/bench_intercept_{log}.log")
        if time.monotonic() - started > timeout:
            raise RuntimeError(f"qcluster ran no task in {timeout:.0f} s; see {LOG_DIR}/bench_intercept_{log}.log")
        time.sleep(0.1)
    return time.monotonic() - started


def flush_queue(queue: str, redis_url: str | None) -> None:
    """Drop what is left in this cluster's queue (a timed-out run): its own key or rows, nothing else."""
    from django_q.brokers import get_broker
    from django_q.models import OrmQ

    if redis_url:
        with cluster_conf(queue, redis_url):
            get_broker(queue).delete_queue()
    else:
        OrmQ.objects.filter(key=queue).delete()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parcels", type=int, default=PARCELS)
    parser.add_argument("--phase", choices=("orm", "redis", "both"), default="both")
    parser.add_argument("--latency", type=float, default=None, help="simulated carrier latency (s)")
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL"):
        sys.exit("Set DATABASE_URL to a scratch database (see the docstring).")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")
    import django

    django.setup()
    refuse_the_dev_database()
    ctx = Context(shop_id=0, user_id=0, after_sales=0)
    phases = {"orm": [(1, None)], "redis": [(2, REDIS_URL)], "both": [(1, None), (2, REDIS_URL)]}[args.phase]
    for workers, redis_url in phases:
        figures = measure(ctx, parcels=args.parcels, workers=workers, redis_url=redis_url, latency=args.latency)
        print({key: round(value, 3) if isinstance(value, float) else value for key, value in figures.items()})


if __name__ == "__main__":
    main()
