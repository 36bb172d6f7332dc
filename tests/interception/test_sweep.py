"""The stuck service orders sweep: asks the carrier about what has no result past the courier's timeout,
applies the answer like a callback, and sends again what the carrier never received."""

import importlib
import json
import threading
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.apps import apps
from django.conf import settings
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone
from django_q.models import Schedule

from aftersales.models import AfterSale, RefundEntry
from interception import callbacks, rules, services, tasks
from interception.models import FeeCharge, ServiceOrder, ServiceOrderLog
from interception.sandbox import start_sandbox
from shop.signing import sign

TIMEOUT = timedelta(minutes=rules.RESULT_TIMEOUT_MINUTES["YTO"])


@pytest.fixture
def launched(refund_only_in_transit, shop, merchant, monkeypatch):
    """Launch an interception whose carrier task is lost (never delivered): the test runs it, or not."""
    monkeypatch.setattr("interception.services.launch.async_task", lambda *args, **kwargs: None)

    def launch(order_no="O-1001", status="in_transit"):
        after_sale = refund_only_in_transit(order_no=order_no, status=status)
        created, _skipped = services.launch_interceptions(
            shop=shop, user=merchant, after_sale_ids=[after_sale.pk], via="detail"
        )
        return created[0]

    return launch


@pytest.fixture
def quiet_sandbox(settings):
    """The carrier sandbox on a free loopback port with its callbacks switched off, the app pointed at it."""
    server, thread, base_url = start_sandbox(port=0, delay=0.0, callbacks=False)
    settings.CARRIER_GATEWAY = "http"
    settings.CARRIER_API_URL = base_url
    yield server
    server.stop(thread)


def request_id(service_order) -> str:
    return f"SO{service_order.pk:08d}"


def assert_succeeded_once(service_order):
    service_order.refresh_from_db()
    assert (service_order.status, service_order.waiting_reason) == ("succeeded", "")
    assert [fee.amount for fee in FeeCharge.objects.all()] == [Decimal("3.00")]
    assert [refund.amount for refund in RefundEntry.objects.all()] == [Decimal("129.00")]
    assert AfterSale.objects.get(pk=service_order.after_sale_id).status == "refunded"
    results = ServiceOrderLog.objects.filter(service_order=service_order, to_status__in=services.RESULT_STATUSES)
    assert [(log.to_status, log.actor) for log in results] == [("succeeded", "carrier")]


def test_a_service_order_whose_task_was_lost_is_sent_again_once_its_couriers_timeout_has_passed(launched):
    service_order = launched()
    launched_at = timezone.now()

    assert services.sweep_stuck_service_orders(now=launched_at + TIMEOUT - timedelta(minutes=1)) == {"relaunched": 0}
    service_order.refresh_from_db()
    assert (service_order.status, service_order.attempts) == ("submitted", 0)

    outcomes = services.sweep_stuck_service_orders(now=launched_at + TIMEOUT + timedelta(minutes=1))

    assert outcomes == {"relaunched": 1}
    assert_succeeded_once(service_order)  # the simulated carrier answered the re-sent call at once


def test_the_timeout_is_per_courier_and_comes_from_the_setting(launched, settings):
    service_order = launched()
    settings.CARRIER_RESULT_TIMEOUT_MINUTES = {"YTO": 120}
    launched_at = timezone.now()

    assert services.sweep_stuck_service_orders(now=launched_at + timedelta(minutes=119)) == {"relaunched": 0}
    assert services.sweep_stuck_service_orders(now=launched_at + timedelta(minutes=121)) == {"relaunched": 1}
    service_order.refresh_from_db()
    assert service_order.status == "succeeded"


def test_against_the_sandbox_with_callbacks_off_the_sweep_asks_for_the_status_and_applies_the_result(
    launched, quiet_sandbox
):
    service_order = launched()
    tasks.run_service_orders([service_order.pk])  # the carrier accepts it; its callback never comes
    service_order.refresh_from_db()
    assert (service_order.status, service_order.carrier_ref) == ("processing", "SBX00000001")
    assert quiet_sandbox.deliveries == []

    assert services.sweep_stuck_service_orders(now=timezone.now()) == {"relaunched": 0}
    assert quiet_sandbox.status_queries == {}  # not overdue yet: the carrier is not asked

    outcomes = services.sweep_stuck_service_orders(now=timezone.now() + TIMEOUT + timedelta(minutes=1))

    assert outcomes == {"applied": 1, "relaunched": 0}
    assert quiet_sandbox.status_queries == {request_id(service_order): 1}
    assert quiet_sandbox.launches == {request_id(service_order): 1}
    assert_succeeded_once(service_order)
    # Run again: nothing is pending any more, the carrier is not asked again.
    assert services.sweep_stuck_service_orders(now=timezone.now() + 3 * TIMEOUT) == {"relaunched": 0}
    assert quiet_sandbox.status_queries == {request_id(service_order): 1}


def test_a_late_callback_after_the_sweep_applied_the_result_changes_nothing(launched, quiet_sandbox):
    service_order = launched()
    tasks.run_service_orders([service_order.pk])
    services.sweep_stuck_service_orders(now=timezone.now() + TIMEOUT + timedelta(minutes=1))
    occurred_at = quiet_sandbox.interceptions[request_id(service_order)].occurred_at[0]
    body = json.dumps(
        {
            "callback_id": "CB-SBX00000001-1",
            "request_id": request_id(service_order),
            "status": "succeeded",
            "reason": "",
            "occurred_at": occurred_at,
            "carrier_ref": "SBX00000001",
        }
    ).encode()
    timestamp = int(time.time())

    answer = callbacks.handle(body, str(timestamp), sign(body, timestamp, settings.CARRIER_CALLBACK_SECRET))

    assert (answer.status, answer.body) == (200, {"result": "ignored"})
    assert_succeeded_once(service_order)


def test_a_result_not_yet_due_stays_processing_and_a_second_run_does_not_ask_again(launched, settings):
    server, thread, base_url = start_sandbox(port=0, delay=3600.0, callbacks=False)
    settings.CARRIER_GATEWAY, settings.CARRIER_API_URL = "http", base_url
    try:
        service_order = launched()
        tasks.run_service_orders([service_order.pk])
        now = timezone.now() + TIMEOUT + timedelta(minutes=1)

        first = services.sweep_stuck_service_orders(now=now)
        second = services.sweep_stuck_service_orders(now=now)
    finally:
        server.stop(thread)

    assert (first, second) == ({"still processing": 1, "relaunched": 0}, {"relaunched": 0})
    assert server.status_queries == {request_id(service_order): 1}
    service_order.refresh_from_db()
    assert (service_order.status, service_order.carrier_checked_at) == ("processing", now)
    assert FeeCharge.objects.count() == 0


def test_a_launch_the_carrier_never_received_is_sent_again_under_the_same_request_id(launched, quiet_sandbox):
    service_order = launched()
    # Recorded as accepted, but the carrier has no such launch (say, its answer came from a carrier since reset).
    ServiceOrder.objects.filter(pk=service_order.pk).update(status="processing", carrier_ref="SBX-FORGOTTEN")

    outcomes = services.sweep_stuck_service_orders(now=timezone.now() + TIMEOUT + timedelta(minutes=1))

    assert outcomes == {"unknown to the carrier": 1, "relaunched": 1}
    assert quiet_sandbox.launches == {request_id(service_order): 1}
    service_order.refresh_from_db()
    assert (service_order.status, service_order.carrier_ref) == ("processing", "SBX00000001")


def test_the_sweep_schedule_migration_creates_it_every_5_minutes_and_its_reverse_deletes_it(db):
    migration = importlib.import_module("interception.migrations.0006_stuck_orders_sweep_schedule")
    Schedule.objects.filter(name=tasks.SWEEP_SCHEDULE).delete()  # a transactional test may have flushed it

    migration.create_schedule(apps, None)
    schedule = Schedule.objects.get(name=tasks.SWEEP_SCHEDULE)
    assert (schedule.func, schedule.schedule_type, schedule.minutes, schedule.repeats) == (
        "interception.tasks.sweep_stuck_service_orders",
        Schedule.MINUTES,
        5,
        -1,
    )
    Schedule.objects.filter(pk=schedule.pk).update(minutes=60)
    again = tasks.ensure_sweep_schedule()  # brought up to date, not duplicated
    assert (again.pk, again.minutes, Schedule.objects.filter(name=tasks.SWEEP_SCHEDULE).count()) == (schedule.pk, 5, 1)

    migration.delete_schedule(apps, None)
    assert not Schedule.objects.filter(name=tasks.SWEEP_SCHEDULE).exists()


def test_the_sweep_command_sweeps_as_if_later(launched, capsys):
    service_order = launched()

    call_command("sweep_stuck_orders", minutes_ahead=int(TIMEOUT.total_seconds() // 60) + 1)

    assert "Swept: relaunched: 1." in capsys.readouterr().out
    service_order.refresh_from_db()
    assert service_order.status == "succeeded"


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="SKIP LOCKED needs PostgreSQL; SQLite has one writer")
def test_a_service_order_another_run_holds_is_skipped_not_waited_for(
    refund_only_in_transit, shop, merchant, monkeypatch
):
    monkeypatch.setattr("interception.services.launch.async_task", lambda *args, **kwargs: None)
    with transaction.atomic():
        held, free = (
            services.launch_interceptions(
                shop=shop, user=merchant, after_sale_ids=[refund_only_in_transit(order_no=no).pk], via="detail"
            )[0][0]
            for no in ("O-1", "O-2")
        )
    locked, release = threading.Event(), threading.Event()

    def other_run():  # another sweep (or carrier task) in the middle of its transaction on `held`
        try:
            with transaction.atomic():
                ServiceOrder.objects.select_for_update().get(pk=held.pk)
                locked.set()
                release.wait(10)
        finally:
            connection.close()

    thread = threading.Thread(target=other_run)
    thread.start()
    try:
        assert locked.wait(10)
        outcomes = services.sweep_stuck_service_orders(now=timezone.now() + TIMEOUT + timedelta(minutes=1))
    finally:
        release.set()
        thread.join(10)

    assert outcomes == {"relaunched": 1}
    statuses = dict(ServiceOrder.objects.values_list("pk", "status"))
    assert statuses == {held.pk: "submitted", free.pk: "succeeded"}
