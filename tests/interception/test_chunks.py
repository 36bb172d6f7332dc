"""Bulk launches: a fixed number of queries to confirm, one carrier task per chunk, at least once."""

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_q.models import Schedule

from aftersales import services as aftersales_services
from aftersales.models import AfterSale, RefundEntry
from interception import services, tasks
from interception.gateway import CarrierError
from interception.gateway.simulated import SimulatedGateway
from interception.models import FeeCharge, ServiceOrder, ServiceOrderLog
from interception.services import carrier as carrier_services
from shop.models import Order
from tests.shop.factories import at, make_order, make_parcel

from .test_retry import WorkerKilled, die_after_once


@pytest.fixture
def queued(monkeypatch):
    """The tasks a launch queues, as (function, argument); none runs: the test plays the worker."""
    calls = []
    monkeypatch.setattr("interception.services.launch.async_task", lambda func, arg: calls.append((func, arg)))
    return calls


@pytest.fixture
def launches(monkeypatch):
    """The simulated carrier's launches, by service order id; `fail` holds the ids it cannot reach."""
    calls, real = [], SimulatedGateway.launch

    def launch(self, parcel):
        calls.append(parcel.service_order_id)
        if parcel.service_order_id in launch.fail:
            raise CarrierError("connection refused")
        return real(self, parcel)

    launch.fail = set()
    monkeypatch.setattr(SimulatedGateway, "launch", launch)
    return launch, calls


def launched(shop, merchant, after_sales, django_capture_on_commit_callbacks) -> list[ServiceOrder]:
    with django_capture_on_commit_callbacks(execute=True):
        created, skipped = services.launch_interceptions(
            shop=shop, user=merchant, after_sale_ids=[a.pk for a in after_sales], via="bulk"
        )
    assert skipped == []
    return created


def assert_each_charged_and_refunded_once(service_orders):
    assert sorted(ServiceOrder.objects.values_list("status", flat=True)) == ["succeeded"] * len(service_orders)
    assert sorted(FeeCharge.objects.values_list("service_order_id", flat=True)) == sorted(s.pk for s in service_orders)
    assert RefundEntry.objects.count() == len(service_orders)
    assert set(AfterSale.objects.values_list("status", "refunded_amount")) == {("refunded", Decimal("129.00"))}


def test_a_launch_runs_the_same_number_of_queries_for_3_after_sales_as_for_30(
    refund_only_in_transit, shop, merchant, queued, django_capture_on_commit_callbacks
):
    counts = []
    for first, count in ((0, 3), (3, 30)):
        after_sale_ids = [refund_only_in_transit(f"O-{i}").pk for i in range(first, first + count)]
        with CaptureQueriesContext(connection) as queries, django_capture_on_commit_callbacks(execute=True):
            created, skipped = services.launch_interceptions(
                shop=shop, user=merchant, after_sale_ids=after_sale_ids, via="bulk"
            )
        assert (len(created), skipped) == (count, [])
        counts.append(len(queries.captured_queries))

    # Four to lock (ids, orders, lines, after-sales), two to re-check, the service orders' insert in its
    # savepoint (3), their logs' (1), the after-sales' history rows (1) and their change-feed rows' (1),
    # and the launch's own savepoint here (2). The tasks are queued after commit, one insert per chunk of
    # LAUNCH_CHUNK_SIZE on the ORM broker (patched out here).
    assert counts == [14, 14]
    assert ServiceOrderLog.objects.filter(to_status="submitted").count() == 33


def test_a_launch_queues_one_carrier_task_per_chunk_of_service_orders(
    refund_only_in_transit, shop, merchant, queued, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(services.launch, "LAUNCH_CHUNK_SIZE", 2)
    after_sales = [refund_only_in_transit(f"O-{i}") for i in range(5)]

    created = launched(shop, merchant, after_sales, django_capture_on_commit_callbacks)

    ids = [service_order.pk for service_order in created]
    assert queued == [("interception.tasks.run_service_orders", ids[i : i + 2]) for i in (0, 2, 4)]


def test_the_chunk_task_run_twice_applies_every_result_once_and_calls_the_carrier_once(
    refund_only_in_transit, shop, merchant, queued, launches, django_capture_on_commit_callbacks
):
    _launch, calls = launches
    created = launched(
        shop, merchant, [refund_only_in_transit(f"O-{i}") for i in range(3)], django_capture_on_commit_callbacks
    )
    ids = [service_order.pk for service_order in created]

    with django_capture_on_commit_callbacks(execute=True):
        first = tasks.run_service_orders(ids)
    second = tasks.run_service_orders(ids)

    assert (first, second) == ({"succeeded": 3}, {"nothing to do": 3})
    assert sorted(calls) == ids
    assert_each_charged_and_refunded_once(created)
    assert set(ServiceOrder.objects.values_list("attempts", flat=True)) == {1}
    assert ServiceOrderLog.objects.filter(to_status="processing").count() == 3


def test_a_worker_killed_in_the_middle_of_a_chunk_applies_the_rest_once_when_the_task_runs_again(
    refund_only_in_transit, shop, merchant, queued, launches, monkeypatch, django_capture_on_commit_callbacks
):
    _launch, calls = launches
    created = launched(
        shop, merchant, [refund_only_in_transit(f"O-{i}") for i in range(3)], django_capture_on_commit_callbacks
    )
    ids = [service_order.pk for service_order in created]
    # The worker dies right after the first result of the chunk was committed.
    monkeypatch.setattr(services.carrier, "apply_result", die_after_once(services.apply_result))

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(WorkerKilled):
        tasks.run_service_orders(ids)
    assert ServiceOrder.objects.filter(status="succeeded").count() == 1

    with django_capture_on_commit_callbacks(execute=True):
        again = tasks.run_service_orders(ids)

    assert again == {"nothing to do": 1, "succeeded": 2}
    assert_each_charged_and_refunded_once(created)
    assert len(calls) == 5  # the two unapplied were asked again, with the same idempotency key


def test_a_carrier_error_on_one_parcel_keeps_the_others_results_and_retries_only_that_one_later(
    refund_only_in_transit, shop, merchant, queued, launches, django_capture_on_commit_callbacks
):
    launch, calls = launches
    created = launched(
        shop, merchant, [refund_only_in_transit(f"O-{i}") for i in range(3)], django_capture_on_commit_callbacks
    )
    ids = [service_order.pk for service_order in created]
    unreachable = ids[1]
    launch.fail = {unreachable}

    with django_capture_on_commit_callbacks(execute=True):
        outcomes = tasks.run_service_orders(ids)

    assert outcomes == {"succeeded": 2, "retry": 1}
    assert dict(ServiceOrder.objects.values_list("pk", "status")) == {
        ids[0]: "succeeded",
        unreachable: "processing",
        ids[2]: "succeeded",
    }
    assert (FeeCharge.objects.count(), RefundEntry.objects.count()) == (2, 2)
    retry = Schedule.objects.get(func="interception.tasks.run_service_orders")
    assert (retry.args, retry.schedule_type, retry.repeats) == (f"([{unreachable}],)", Schedule.ONCE, -1)
    assert timedelta(seconds=50) < retry.next_run - timezone.now() <= timedelta(minutes=1)

    launch.fail = set()  # the carrier is back when the scheduler runs the retry
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.run_service_orders([unreachable]) == {"succeeded": 1}

    assert_each_charged_and_refunded_once(created)
    assert sorted(calls) == sorted([*ids, unreachable])
    assert ServiceOrder.objects.get(pk=unreachable).attempts == 2


def test_a_carrier_that_never_answers_is_retried_with_growing_delays_then_left_processing(
    refund_only_in_transit, shop, merchant, queued, launches, django_capture_on_commit_callbacks
):
    launch, _calls = launches
    (service_order,) = launched(shop, merchant, [refund_only_in_transit()], django_capture_on_commit_callbacks)
    launch.fail = {service_order.pk}

    retries, delays = Schedule.objects.filter(func="interception.tasks.run_service_orders"), []
    for _attempt in range(len(services.CARRIER_RETRY_DELAYS) + 1):
        retries.delete()
        started = timezone.now()
        assert tasks.run_service_orders([service_order.pk]) == {"retry": 1}
        delays += [round((retry.next_run - started).total_seconds() / 60) for retry in retries]

    assert delays == [1, 5, 15, 60]  # minutes; after the fifth call, no more
    service_order.refresh_from_db()
    assert (service_order.status, service_order.attempts) == ("processing", 5)
    assert (FeeCharge.objects.count(), RefundEntry.objects.count()) == (0, 0)


def test_the_one_service_order_task_queued_before_the_chunks_still_runs(
    refund_only_in_transit, shop, merchant, queued, launches, django_capture_on_commit_callbacks
):
    launch, _calls = launches
    (service_order,) = launched(shop, merchant, [refund_only_in_transit()], django_capture_on_commit_callbacks)
    launch.fail = {service_order.pk}
    assert tasks.run_service_order(service_order.pk) == "retry"
    launch.fail = set()

    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.run_service_order(service_order.pk) == "succeeded"

    assert tasks.run_service_order(service_order.pk) == "nothing to do"
    assert_each_charged_and_refunded_once([service_order])


def test_a_launch_that_loses_the_race_for_one_parcel_skips_it_and_launches_the_others(
    refund_only_in_transit, shop, merchant, queued, monkeypatch, django_capture_on_commit_callbacks
):
    a, b, c = (refund_only_in_transit(f"O-{i}") for i in range(3))
    real = services.candidates_for

    def checked_then_overtaken(**kwargs):
        candidates = real(**kwargs)
        # Another launch, which did not wait for these locks, intercepts b's parcel meanwhile.
        parcel = b.parcel
        ServiceOrder.objects.create(
            shop=shop,
            after_sale=b,
            parcel=parcel,
            courier=parcel.courier,
            outlet=parcel.outlet,
            mode="online",
            fee=Decimal("3.00"),
            via="detail",
        )
        return candidates

    monkeypatch.setattr(services.launch, "candidates_for", checked_then_overtaken)

    with django_capture_on_commit_callbacks(execute=True):
        created, skipped = services.launch_interceptions(
            shop=shop, user=merchant, after_sale_ids=[a.pk, b.pk, c.pk], via="bulk"
        )

    assert [service_order.after_sale_id for service_order in created] == [a.pk, c.pk]
    assert [(after_sale.pk, reason) for after_sale, reason in skipped] == [
        (b.pk, "an interception of this parcel is already under way or done")
    ]
    assert ServiceOrder.objects.filter(via="bulk").count() == 2
    assert ServiceOrderLog.objects.filter(to_status="submitted").count() == 2
    assert [arg for _func, arg in queued] == [[service_order.pk for service_order in created]]


def test_two_after_sales_of_one_parcel_in_one_launch_intercept_it_once(shop, merchant, yto_outlet, queued):
    order = make_order(
        shop, order_no="O-2L", status=Order.Status.SHIPPED, lines=[{"paid_amount": "50.00"}, {"paid_amount": "60.00"}]
    )
    make_parcel(order, outlet=yto_outlet, tracking_no="YT-2L")
    first, second = (
        aftersales_services.apply_for_after_sale(
            after_sale_no=f"AS-2L-{line_no}",
            order_no="O-2L",
            line_no=line_no,
            type="refund_only",
            reason="not_received",
            amount=Decimal(amount),
            note="",
            at=at("2026-11-22 10:00"),
        )
        for line_no, amount in (("1", "50.00"), ("2", "60.00"))
    )

    created, skipped = services.launch_interceptions(
        shop=shop, user=merchant, after_sale_ids=[second.pk, first.pk], via="bulk"
    )

    assert [service_order.after_sale_id for service_order in created] == [first.pk]
    assert [(after_sale.pk, reason) for after_sale, reason in skipped] == [
        (second.pk, "an interception of this parcel is already under way or done")
    ]


def test_a_chunks_refund_notifications_are_delivered_by_one_task_once_it_is_done(
    refund_only_in_transit, shop, merchant, queued, launches, django_capture_on_commit_callbacks, monkeypatch
):
    from aftersales import notifications
    from aftersales.models import BuyerNotification

    delivery_tasks = []
    monkeypatch.setattr(notifications, "async_task", lambda func, *args: delivery_tasks.append((func, args)))
    created = launched(
        shop, merchant, [refund_only_in_transit(f"O-{i}") for i in range(3)], django_capture_on_commit_callbacks
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.run_service_orders([service_order.pk for service_order in created]) == {"succeeded": 3}

    refunded = sorted(BuyerNotification.objects.filter(kind="refunded").values_list("pk", flat=True))
    assert len(refunded) == 3
    assert [(func, sorted(args[0])) for func, args in delivery_tasks] == [
        ("aftersales.notifications.deliver_many", refunded)
    ]


def test_notifications_written_outside_a_chunk_still_get_a_task_each(
    shop, monkeypatch, django_capture_on_commit_callbacks
):
    from aftersales import notifications

    delivery_tasks = []
    monkeypatch.setattr(notifications, "async_task", lambda func, *args: delivery_tasks.append(func))
    order = make_order(shop, order_no="O-CARD")
    with django_capture_on_commit_callbacks(execute=True):
        notifications.notify_card(order=order, line=order.lines.first(), user=merchant_user(shop))
    assert delivery_tasks == ["aftersales.notifications.deliver"]


def merchant_user(shop):
    from tests.shop.factories import make_merchant

    return make_merchant(shop, "card-sender")


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_the_results_are_applied_by_several_threads_each_once(
    refund_only_in_transit, shop, merchant, queued, launches, settings, monkeypatch
):
    from aftersales import notifications

    settings.CARRIER_RESULT_APPLIERS = 3
    delivery_tasks = []
    monkeypatch.setattr(notifications, "async_task", lambda func, *args: delivery_tasks.append((func, args)))
    threads = []
    real_record = carrier_services._record
    monkeypatch.setattr(
        carrier_services, "_record", lambda *a: threads.append(threading.current_thread().name) or real_record(*a)
    )
    created, _skipped = services.launch_interceptions(
        shop=shop, user=merchant, after_sale_ids=[refund_only_in_transit(f"O-{i}").pk for i in range(6)], via="bulk"
    )
    delivery_tasks.clear()  # the applications' own notifications, each with its task (no transaction here)

    assert tasks.run_service_orders([service_order.pk for service_order in created]) == {"succeeded": 6}

    assert_each_charged_and_refunded_once(created)
    assert {name.rsplit("-", 1)[0] for name in threads} == {"apply"}  # none in the task's own thread
    assert [func for func, _args in delivery_tasks] == ["aftersales.notifications.deliver_many"]
    assert len(delivery_tasks[0][1][0]) == 6
