"""Money and limits under real concurrency: real threads, real transactions, PostgreSQL only.

SQLite serialises writers (IMMEDIATE transactions), which proves nothing about row locks.
"""

import json
import threading
import time
from collections import Counter
from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Sum
from django.test import Client

from aftersales import ledger, services, tasks
from aftersales.models import AfterSale, RefundEntry
from aftersales.services import timeouts
from shop.errors import DomainError
from shop.models import Order, OrderLine
from shop.signing import sign
from tests.aftersales.factories import make_after_sale
from tests.concurrency import outcome_kinds, run_together
from tests.shop.factories import at, make_merchant, make_order, make_shop

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL"),
]


def ledger_sum(**filters) -> Decimal:
    return RefundEntry.objects.filter(**filters).aggregate(total=Sum("amount"))["total"] or Decimal("0.00")


@pytest.fixture
def shop_and_merchant():
    shop = make_shop("demo-shop")
    return shop, make_merchant(shop, "merchant")


def test_50_concurrent_small_payments_of_30_on_a_100_line_accept_exactly_3(shop_and_merchant):
    shop, merchant = shop_and_merchant
    order = make_order(shop, order_no="O-1001", status=Order.Status.COMPLETED, lines=[{"paid_amount": "100.00"}])
    after_sale = make_after_sale(order, reason="quality", amount="100.00")

    results = run_together(
        50,
        lambda i: services.pay_small_amount(
            after_sale_id=after_sale.pk,
            shop=shop,
            user=merchant,
            amount=Decimal("30.00"),
            reason="补偿",
            idempotency_key=f"payment-{i}",
        ),
    )

    assert outcome_kinds(results) == Counter({"ok": 3, "DomainError:not_allowed": 47})
    order.refresh_from_db()
    line = OrderLine.objects.get(order=order)
    assert RefundEntry.objects.count() == 3
    assert (line.refunded_amount, order.refunded_amount, ledger_sum(order=order)) == (Decimal("90.00"),) * 3


def test_50_concurrent_ledger_refunds_without_row_locks_are_held_by_the_guarded_update(shop_and_merchant):
    shop, _merchant = shop_and_merchant
    order = make_order(shop, order_no="O-1001", status=Order.Status.COMPLETED, lines=[{"paid_amount": "100.00"}])
    line_id = order.lines.get().pk

    def refund(i):
        with transaction.atomic():
            return ledger.record_refund(
                line=OrderLine.objects.select_related("order").get(pk=line_id),
                after_sale=None,
                kind="small_payment",
                amount=Decimal("30.00"),
                actor="merchant",
                idempotency_key=f"offline-{i}",
            )

    results = run_together(50, refund)

    assert outcome_kinds(results) == Counter({"ok": 3, "DomainError:amount_exceeds_refundable": 47})
    order.refresh_from_db()
    assert (order.lines.get().refunded_amount, order.refunded_amount, ledger_sum(order=order)) == (
        Decimal("90.00"),
    ) * 3


def signed_post(client: Client, event: dict):
    body = json.dumps(event, ensure_ascii=False).encode()
    ts = str(int(time.time()))
    return client.post(
        "/api/platform/events",
        data=body,
        content_type="application/json",
        headers={"X-Platform-Timestamp": ts, "X-Platform-Signature": sign(body, ts, settings.PLATFORM_EVENTS_SECRET)},
    )


def test_20_concurrent_applications_on_one_order_accept_exactly_5(shop_and_merchant):
    shop, _merchant = shop_and_merchant
    order = make_order(
        shop,
        order_no="O-1001",
        status=Order.Status.COMPLETED,
        lines=[{"line_no": str(i), "paid_amount": "10.00"} for i in range(1, 21)],
    )

    def apply(i):
        response = signed_post(
            Client(),
            {
                "id": f"evt-apply-{i}",
                "type": "aftersale.applied",
                "occurred_at": "2026-11-22T10:15:00+08:00",
                "data": {
                    "after_sale_no": f"AS-{i}",
                    "order_no": "O-1001",
                    "line_no": str(i + 1),
                    "type": "return_refund",
                    "reason": "quality",
                    "amount": "10.00",
                },
            },
        )
        return response.status_code, response.json().get("code")

    results = run_together(20, apply)

    assert Counter(results) == Counter({(200, None): 5, (409, "application_limit"): 15})
    assert sorted(AfterSale.objects.filter(order=order).values_list("sequence", flat=True)) == [1, 2, 3, 4, 5]


def test_two_concurrent_sweeps_refund_each_overdue_after_sale_exactly_once(shop_and_merchant):
    shop, _merchant = shop_and_merchant
    now = at("2026-11-25 12:00")
    orders = [
        make_order(
            shop,
            status=Order.Status.COMPLETED,
            lines=[{"line_no": str(i), "paid_amount": "40.00"} for i in range(1, 5)],
        )
        for _ in range(3)
    ]
    for order in orders:
        for line in order.lines.all():
            make_after_sale(order, line=line, amount="40.00", deadline=now - timedelta(minutes=1))

    results = run_together(2, lambda i: tasks.sweep_overdue_after_sales(now=now))

    assert all(isinstance(r, int) for r in results), results
    assert sum(results) == 12
    assert RefundEntry.objects.count() == 12
    assert set(AfterSale.objects.values_list("status", "refunded_amount")) == {("refunded", Decimal("40.00"))}
    assert Counter(RefundEntry.objects.values_list("after_sale_id", flat=True)).most_common(1)[0][1] == 1
    for order in orders:
        order.refresh_from_db()
        assert (order.refunded_amount, ledger_sum(order=order)) == (Decimal("160.00"), Decimal("160.00"))


def test_a_merchant_agreeing_while_the_sweep_times_out_refunds_once(shop_and_merchant):
    shop, merchant = shop_and_merchant
    now = at("2026-11-25 12:00")
    orders = [make_order(shop, status=Order.Status.COMPLETED, lines=[{"paid_amount": "40.00"}]) for _ in range(10)]
    after_sales = [make_after_sale(order, amount="40.00", deadline=now - timedelta(minutes=1)) for order in orders]

    def act(i):
        if i == 0:
            return tasks.sweep_overdue_after_sales(now=now)
        return services.agree_refund(after_sale_id=after_sales[i - 1].pk, shop=shop, user=merchant)

    results = run_together(11, act)

    unexpected = [r for r in results if isinstance(r, BaseException) and not isinstance(r, DomainError)]
    assert unexpected == []
    assert RefundEntry.objects.count() == 10
    assert Counter(RefundEntry.objects.values_list("after_sale_id", flat=True)).most_common(1)[0][1] == 1
    merchant_wins = sum(1 for r in results[1:] if isinstance(r, AfterSale))
    assert merchant_wins + results[0] == 10
    assert RefundEntry.objects.filter(actor="merchant").count() == merchant_wins


def test_one_small_payment_submitted_10_times_at_once_is_paid_once(shop_and_merchant):
    shop, merchant = shop_and_merchant
    order = make_order(shop, order_no="O-1001", status=Order.Status.COMPLETED, lines=[{"paid_amount": "100.00"}])
    after_sale = make_after_sale(order, reason="quality", amount="100.00")

    results = run_together(
        10,
        lambda i: services.pay_small_amount(
            after_sale_id=after_sale.pk,
            shop=shop,
            user=merchant,
            amount=Decimal("30.00"),
            reason="补偿",
            idempotency_key="one-click",
        ),
    )

    assert outcome_kinds(results) == Counter({"ok": 10})
    order.refresh_from_db()
    assert RefundEntry.objects.count() == 1
    assert (order.lines.get().refunded_amount, order.refunded_amount) == (Decimal("30.00"), Decimal("30.00"))


def test_after_sales_of_two_orders_of_one_shop_do_not_wait_for_each_other(shop_and_merchant):
    # Lock order → line → after-sale, and nothing else: locking the shop's (or the buyer's) row too would
    # queue every after-sale write of the shop behind one another.
    shop, _merchant = shop_and_merchant
    buyer_order = make_order(shop, order_no="O-1001", status=Order.Status.COMPLETED, lines=[{"paid_amount": "10.00"}])
    held = make_after_sale(buyer_order, amount="10.00")
    other = make_after_sale(make_order(shop, order_no="O-1002", status=Order.Status.COMPLETED, buyer=buyer_order.buyer))
    make_order(shop, order_no="O-1003", status=Order.Status.COMPLETED, buyer=buyer_order.buyer)
    locked, release = threading.Event(), threading.Event()

    def hold_first_order():
        try:
            with transaction.atomic():
                services.lock_after_sale(held.pk)
                locked.set()
                release.wait(timeout=30)
        finally:
            connection.close()

    holder = threading.Thread(target=hold_first_order)
    holder.start()
    try:
        assert locked.wait(timeout=30)
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '2s'")
            assert services.lock_after_sale(other.pk).pk == other.pk
            applied = services.apply_for_after_sale(
                after_sale_no="AS-3",
                order_no="O-1003",
                line_no="1",
                type="return_refund",
                reason="quality",
                amount=Decimal("100.00"),
                note="",
                at=at("2026-11-22 10:15"),
            )
            assert applied.status == "pending_merchant"
    finally:
        release.set()
        holder.join(timeout=30)


def test_three_concurrent_sweeps_in_small_chunks_act_on_each_after_sale_once(shop_and_merchant, monkeypatch):
    # Chunks of 4 over orders of 3 lines: the sweeps' chunks overlap and split orders differently.
    shop, _merchant = shop_and_merchant
    monkeypatch.setattr(tasks, "SWEEP_BATCH", 4)
    now = at("2026-11-25 12:00")
    kinds = [("pending_merchant", "refund_only"), ("pending_merchant", "return_refund")]
    kinds.append(("awaiting_merchant_receipt", "return_refund"))
    orders = []
    for _ in range(10):
        order = make_order(
            shop, status=Order.Status.COMPLETED, lines=[{"line_no": str(i), "paid_amount": "40.00"} for i in (1, 2, 3)]
        )
        for line, (status, type) in zip(order.lines.order_by("line_no"), kinds, strict=True):
            make_after_sale(order, line=line, status=status, type=type, reason="quality", deadline=now - timedelta(1))
        orders.append(order)

    results = run_together(3, lambda i: tasks.sweep_overdue_after_sales(now=now))

    assert all(isinstance(r, int) for r in results), results
    assert sum(results) == 30
    assert Counter(AfterSale.objects.values_list("status", flat=True)) == {"refunded": 20, "awaiting_buyer_return": 10}
    assert Counter(RefundEntry.objects.values_list("after_sale_id", flat=True)).most_common(1)[0][1] == 1
    assert RefundEntry.objects.count() == 20
    status_changes = Counter(
        AfterSale.objects.filter(logs__action="status", logs__actor="timeout").values_list("pk", flat=True)
    )
    assert set(status_changes.values()) == {1} and len(status_changes) == 30
    assert set(AfterSale.objects.annotate(n=Count("notifications")).values_list("n", flat=True)) == {1}
    for order in orders:
        order.refresh_from_db()
        assert (order.refunded_amount, ledger_sum(order=order)) == (Decimal("80.00"), Decimal("80.00"))


def hold_locks_of(after_sale_id: int, locked: threading.Event, release: threading.Event) -> threading.Thread:
    """A thread holding the order → line → after-sale locks of one after-sale until `release`, changing nothing."""

    def hold():
        try:
            with transaction.atomic():
                services.lock_after_sale(after_sale_id)
                locked.set()
                release.wait(timeout=30)
        finally:
            connection.close()

    thread = threading.Thread(target=hold)
    thread.start()
    return thread


def test_a_chunk_passes_over_an_after_sale_another_transaction_holds_without_waiting(shop_and_merchant):
    shop, _merchant = shop_and_merchant
    now = at("2026-11-25 12:00")
    orders = [make_order(shop, status=Order.Status.COMPLETED, lines=[{"paid_amount": "40.00"}]) for _ in range(3)]
    held, *others = [make_after_sale(order, deadline=now - timedelta(minutes=1)) for order in orders]
    locked, release = threading.Event(), threading.Event()
    holder = hold_locks_of(held.pk, locked, release)
    try:
        assert locked.wait(timeout=30)
        started = time.monotonic()
        result = timeouts.time_out_after_sales(after_sale_ids=[held.pk, *(a.pk for a in others)], now=now)
        elapsed = time.monotonic() - started
    finally:
        release.set()
        holder.join(timeout=30)

    assert elapsed < 10  # it did not wait for the holder, which lets go only after the chunk returned
    assert (result.handled, result.contended, result.failed) == ([a.pk for a in others], [held.pk], [])
    assert AfterSale.objects.get(pk=held.pk).status == "pending_merchant"
    assert RefundEntry.objects.count() == 2


def test_the_sweep_waits_at_the_end_for_an_after_sale_another_transaction_held(shop_and_merchant):
    shop, _merchant = shop_and_merchant
    now = at("2026-11-25 12:00")
    orders = [make_order(shop, status=Order.Status.COMPLETED, lines=[{"paid_amount": "40.00"}]) for _ in range(3)]
    held, *others = [make_after_sale(order, deadline=now - timedelta(minutes=1)) for order in orders]
    locked, release = threading.Event(), threading.Event()
    holder = hold_locks_of(held.pk, locked, release)
    assert locked.wait(timeout=30)
    sweep = []

    def run_sweep():
        try:
            sweep.append(tasks.sweep_overdue_after_sales(now=now))
        finally:
            connection.close()

    sweeper = threading.Thread(target=run_sweep)
    sweeper.start()
    try:
        deadline = time.monotonic() + 20
        while RefundEntry.objects.count() < 2 and time.monotonic() < deadline:  # the others, in their chunk
            time.sleep(0.05)
        assert RefundEntry.objects.count() == 2
        assert sweeper.is_alive()  # waiting for the held one's locks
    finally:
        release.set()
        holder.join(timeout=30)
        sweeper.join(timeout=30)

    assert sweep == [3]
    assert set(AfterSale.objects.values_list("status", flat=True)) == {"refunded"}
    assert RefundEntry.objects.filter(after_sale=held).count() == 1


def test_a_sweep_and_a_writer_locking_after_sales_in_the_other_order_do_not_deadlock(shop_and_merchant):
    # A bulk interception locks its after-sales one at a time in its own order: here the later order
    # first, then the earlier. A sweep locking both orders at once in id order and waiting would deadlock.
    shop, _merchant = shop_and_merchant
    now = at("2026-11-25 12:00")
    orders = [make_order(shop, status=Order.Status.COMPLETED, lines=[{"paid_amount": "40.00"}]) for _ in range(2)]
    first, second = (make_after_sale(order, deadline=now - timedelta(minutes=1)) for order in orders)
    second_locked = threading.Event()

    def work(i):
        if i == 0:
            with transaction.atomic():
                services.lock_after_sale(second.pk)
                second_locked.set()
                time.sleep(0.5)  # the sweep is under way meanwhile
                services.lock_after_sale(first.pk)
            return "writer done"
        assert second_locked.wait(timeout=30)
        return tasks.sweep_overdue_after_sales(now=now)

    results = run_together(2, work)

    assert results == ["writer done", 2]
    assert RefundEntry.objects.count() == 2
