"""A qcluster worker SIGKILLed in the middle of a 500-parcel bulk interception, on both brokers.

The interception is launched through the real service (what the preview's "confirm" does) and run by a
real `manage.py qcluster` subprocess on the test database, with the simulated carrier answering after a
small latency so that the kill lands while chunks are being worked on. The whole cluster's process group
is SIGKILLed, a new cluster is started, and once every service order has its result (bounded wait):
every parcel has exactly one result, one fee per successful interception, at most one refund per
after-sale, and the counters equal the ledger's sums.

ORM broker: a task taken by a dead worker is delivered again after Q_RETRY seconds (a few here).
Redis broker: a task popped by a dead worker is gone, and its service orders stay "submitted" or
"processing" until the stuck-orders sweep sends them again: once nothing more moves, the test runs the
sweep as its schedule would once the courier's result timeout has passed (`now` moved past it).
"""

import os
import time
import uuid
from collections import Counter
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.db.models import Count, Sum
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.brokers.orm import ORM

from aftersales import notifications
from aftersales import services as aftersales_services
from aftersales.models import AfterSale, RefundEntry
from interception import rules, services
from interception.models import FeeCharge, ServiceOrder, ServiceOrderLog
from shop.models import Buyer, Courier, Order, OrderLine, Outlet, Parcel, Shop, TrackingEvent, User
from tests.faults.conftest import cluster_env, point_django_q_at, qcluster_args

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.faults,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="a qcluster subprocess shares the PostgreSQL test database"
    ),
    pytest.mark.skipif(
        bool(os.environ.get("BACKOFFICE_TEST_NOW")), reason="the subprocess cluster runs on the real clock"
    ),
]

PARCELS = 500
OUT_FOR_DELIVERY_EVERY = 5  # one parcel in five is out for delivery: the simulated carrier fails half of those
LATENCY = "0.4"  # seconds a simulated carrier call takes: a 40-parcel chunk (16 calls at once) takes ~1.5 s
Q_TIMEOUT, Q_RETRY = "8", "10"  # a chunk runs in ~2 s; a dead worker's ORM task comes back after 10 s
KILL_AFTER_RESULTS = 80  # SIGKILL once this many service orders have a result: well before the end
WAIT_SECONDS = 45  # for every result after the restart
PAST_THE_TIMEOUT = timedelta(minutes=rules.RESULT_TIMEOUT_MINUTES_DEFAULT + max(rules.RESULT_TIMEOUT_MINUTES.values()))


class StuckServiceOrders(AssertionError):
    """Service orders that never got a result: the guarantee the stuck-orders sweep gives."""


def make_after_sales(tag: str) -> tuple[Shop, User, list[int]]:
    """A shop and PARCELS orders, each one parcel on its way and a refund-only request applied for."""
    now = timezone.now()
    courier, _ = Courier.objects.get_or_create(
        code="YTO", defaults={"name": "圆通", "supports_online_interception": True}
    )
    Courier.objects.filter(pk=courier.pk).update(supports_online_interception=True)
    outlet = Outlet.objects.create(
        courier=courier, code=f"YTO-F-{tag}", name="圆通故障网点", region="上海", uses_platform_ewaybill=True
    )
    shop = Shop.objects.create(code=f"faults-{tag}", name="故障小店")
    owner = User.objects.create_user(
        username=f"faults-{tag}", password=None, kind="merchant", shop=shop, shop_role="owner"
    )
    buyers = Buyer.objects.bulk_create(Buyer(external_id=f"f-{tag}-{i}", nickname=f"买家{i}") for i in range(PARCELS))
    orders = Order.objects.bulk_create(
        Order(
            shop=shop,
            buyer=buyer,
            order_no=f"FO-{tag}-{i:04d}",
            status=Order.Status.SHIPPED,
            paid_amount=Decimal("89.00"),
            paid_at=now - timedelta(days=2),
        )
        for i, buyer in enumerate(buyers)
    )
    lines = OrderLine.objects.bulk_create(
        OrderLine(order=order, line_no="1", title="保温杯", category="home", quantity=1, paid_amount=Decimal("89.00"))
        for order in orders
    )
    shipped_at = now - timedelta(days=1)
    parcels = Parcel.objects.bulk_create(
        Parcel(
            order=order,
            courier=courier,
            outlet=outlet,
            tracking_no=f"YT{tag}{i:05d}",
            status=Parcel.Status.OUT_FOR_DELIVERY if i % OUT_FOR_DELIVERY_EVERY == 0 else Parcel.Status.IN_TRANSIT,
            status_at=shipped_at,
            shipped_at=shipped_at,
        )
        for i, order in enumerate(orders)
    )
    Parcel.lines.through.objects.bulk_create(
        Parcel.lines.through(parcel_id=parcel.pk, orderline_id=line.pk)
        for parcel, line in zip(parcels, lines, strict=True)
    )
    TrackingEvent.objects.bulk_create(TrackingEvent(parcel=p, status=p.status, at=shipped_at) for p in parcels)
    # The applications' own "please refuse the parcel" notifications are not this test's subject.
    with pytest.MonkeyPatch.context() as patch, transaction.atomic():  # one commit, not 500
        patch.setattr(notifications, "_enqueue", lambda notification: None)
        for i, order in enumerate(orders):
            aftersales_services.apply_for_after_sale(
                after_sale_no=f"AS-F-{tag}-{i:04d}",
                order_no=order.order_no,
                line_no="1",
                type=AfterSale.Type.REFUND_ONLY,
                reason=AfterSale.Reason.NOT_RECEIVED,
                amount=Decimal("89.00"),
                note="",
                at=now - timedelta(hours=3),
            )
    ids = list(AfterSale.objects.filter(shop=shop).order_by("pk").values_list("pk", flat=True))
    return shop, owner, ids


def results_so_far(orders) -> int:
    return orders.exclude(status__in=ServiceOrder.PENDING_STATUSES).count()


def start_cluster(processes, *, queue: str, redis_url: str | None, name: str):
    env = cluster_env(
        queue=queue,
        redis_url=redis_url,
        Q_WORKERS="2",
        Q_TIMEOUT=Q_TIMEOUT,
        Q_RETRY=Q_RETRY,
        CARRIER_GATEWAY="simulated",
        CARRIER_SIMULATED_LATENCY=LATENCY,
        CARRIER_SIMULATED_FAILURE_RATE="0.5",
    )
    return processes(qcluster_args(), env=env, name=name)


def wait_for(condition, *, seconds: float, cluster, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert cluster.alive, f"qcluster exited ({cluster.popen.returncode}):\n{cluster.output()}"
        assert time.monotonic() < deadline, f"{what}: not after {seconds} s\n{cluster.output()}"
        time.sleep(0.05)


def wait_for_every_result(orders, *, cluster, broker) -> None:
    """Until every service order has a result; StuckServiceOrders if some still have none after WAIT_SECONDS,
    or once nothing more is coming: the broker has nothing to deliver and nothing has moved for a while
    (an ORM task taken by the dead worker counts as nothing to deliver until Q_RETRY has passed)."""
    started = last_move = time.monotonic()
    seen = results_so_far(orders)
    total = orders.count()
    stall = int(Q_RETRY) + 8 if isinstance(broker, ORM) else 6
    while seen < total:
        assert cluster.alive, f"qcluster exited ({cluster.popen.returncode}):\n{cluster.output()}"
        now = time.monotonic()
        if (now - last_move > stall and not broker.queue_size()) or now - started > WAIT_SECONDS:
            stuck = Counter(orders.filter(status__in=ServiceOrder.PENDING_STATUSES).values_list("status", flat=True))
            raise StuckServiceOrders(
                f"{total - seen} of {total} service orders without a result {now - started:.0f} s after the restart "
                f"({dict(stuck)}, nothing moved for {now - last_move:.0f} s)"
            )
        time.sleep(0.2)
        count = results_so_far(orders)
        if count != seen:
            seen, last_move = count, time.monotonic()


def assert_exactly_once(shop: Shop, orders, after_sale_ids: list[int]) -> None:
    """One result per parcel, one fee per success, at most one refund per after-sale, counters = ledger."""
    assert orders.count() == len(after_sale_ids)
    per_parcel = orders.values("parcel_id").annotate(n=Count("pk")).filter(n__gt=1)
    assert list(per_parcel) == [], "a parcel with more than one service order"
    done = orders.exclude(status__in=ServiceOrder.PENDING_STATUSES)
    # Exactly one result each: one log row into a result status per finished service order.
    result_logs = Counter(
        ServiceOrderLog.objects.filter(service_order__in=done, to_status__in=services.RESULT_STATUSES).values_list(
            "service_order_id", flat=True
        )
    )
    assert set(result_logs.values()) <= {1}, "a service order with two results"
    assert set(result_logs) == set(done.values_list("pk", flat=True))
    succeeded = set(done.filter(status=ServiceOrder.Status.SUCCEEDED).values_list("pk", flat=True))
    assert set(done.values_list("status", flat=True)) <= {ServiceOrder.Status.SUCCEEDED, ServiceOrder.Status.FAILED}
    # One fee charge per successful interception, none for a failed one.
    fees = Counter(FeeCharge.objects.filter(shop=shop).values_list("service_order_id", flat=True))
    assert set(fees.values()) <= {1}
    assert set(fees) == succeeded
    # At most one refund per after-sale (the ledger's idempotency key), and one for each success.
    refunds = RefundEntry.objects.filter(shop=shop)
    assert set(Counter(refunds.values_list("idempotency_key", flat=True)).values()) <= {1}
    assert set(Counter(refunds.values_list("after_sale_id", flat=True)).values()) <= {1}
    refunded_after_sales = set(refunds.values_list("after_sale_id", flat=True))
    assert refunded_after_sales == set(done.filter(pk__in=succeeded).values_list("after_sale_id", flat=True))
    assert set(refunds.values_list("amount", flat=True)) <= {Decimal("89.00")}
    # The counters are the ledger's sums: after-sales, lines and orders.
    ledger = dict(refunds.values("after_sale_id").annotate(s=Sum("amount")).values_list("after_sale_id", "s"))
    for after_sale_id, refunded, status in AfterSale.objects.filter(pk__in=after_sale_ids).values_list(
        "pk", "refunded_amount", "status"
    ):
        assert refunded == ledger.get(after_sale_id, Decimal("0.00")), after_sale_id
        assert (status == AfterSale.Status.REFUNDED) == (after_sale_id in refunded_after_sales), after_sale_id
    by_line = dict(refunds.values("line_id").annotate(s=Sum("amount")).values_list("line_id", "s"))
    for line_id, refunded in OrderLine.objects.filter(order__shop=shop).values_list("pk", "refunded_amount"):
        assert refunded == by_line.get(line_id, Decimal("0.00")), line_id
    by_order = dict(refunds.values("order_id").annotate(s=Sum("amount")).values_list("order_id", "s"))
    for order_id, refunded in Order.objects.filter(shop=shop).values_list("pk", "refunded_amount"):
        assert refunded == by_order.get(order_id, Decimal("0.00")), order_id


def sweep_then_wait_for_every_result(orders, *, cluster, broker) -> None:
    """Until nothing more moves (StuckServiceOrders is expected on the Redis broker: its lost chunks), then
    the stuck-orders sweep with `now` past the timeout, and every result after it."""
    try:
        wait_for_every_result(orders, cluster=cluster, broker=broker)
    except StuckServiceOrders as stuck:
        print(f"before the sweep: {stuck}")
    outcomes = services.sweep_stuck_service_orders(now=timezone.now() + PAST_THE_TIMEOUT)
    print(f"the sweep: {outcomes}")
    wait_for_every_result(orders, cluster=cluster, broker=broker)


def kill_mid_interception_and_restart(processes, *, broker: str, redis_url: str | None, sweep: bool = False):
    tag = uuid.uuid4().hex[:8]
    queue = f"faults-{broker}-{tag}"
    t0 = time.monotonic()
    with point_django_q_at(queue, redis_url):
        first = start_cluster(
            processes, queue=queue, redis_url=redis_url, name=f"qcluster-{broker}-1"
        )  # starts meanwhile
        shop, owner, after_sale_ids = make_after_sales(tag)
        print(f"{PARCELS} after-sales made in {time.monotonic() - t0:.1f} s")  # shown when the test fails
        batch = services.create_batch(shop=shop, user=owner, via="bulk", after_sale_ids=after_sale_ids, skipped=[])
        orders = ServiceOrder.objects.filter(batch=batch)
        assert orders.count() == PARCELS

        # Not between two chunks (then nothing is "processing" and the kill would land on no work under way).
        wait_for(
            lambda: (
                results_so_far(orders) >= KILL_AFTER_RESULTS
                and orders.filter(status=ServiceOrder.Status.PROCESSING).exists()
            ),
            seconds=40,
            cluster=first,
            what="first results, and a chunk under way",
        )
        first.kill()
        at_kill = Counter(orders.values_list("status", flat=True))
        print(f"killed {time.monotonic() - t0:.1f} s in: {dict(at_kill)}")
        # The kill landed mid-way: chunks were being worked on (processing) and others were still queued.
        assert at_kill[ServiceOrder.Status.PROCESSING] > 0, at_kill
        assert at_kill[ServiceOrder.Status.SUBMITTED] > 0, at_kill

        second = start_cluster(processes, queue=queue, redis_url=redis_url, name=f"qcluster-{broker}-2")
        try:
            if sweep:
                sweep_then_wait_for_every_result(orders, cluster=second, broker=get_broker(queue))
            else:
                wait_for_every_result(orders, cluster=second, broker=get_broker(queue))
        finally:
            now = Counter(orders.values_list("status", flat=True))
            print(f"after the restart, {time.monotonic() - t0:.1f} s in: {dict(now)}")
            # What is true whatever the broker: nothing was done twice.
            assert_exactly_once(shop, orders, after_sale_ids)
    return at_kill


def test_a_bulk_interception_survives_its_worker_killed_on_the_orm_broker(processes):
    kill_mid_interception_and_restart(processes, broker="orm", redis_url=None)


def test_a_bulk_interception_survives_its_worker_killed_on_the_redis_broker_by_the_stuck_orders_sweep(
    processes, redis_url
):
    kill_mid_interception_and_restart(processes, broker="redis", redis_url=redis_url, sweep=True)
