"""Timeouts: the every-minute sweep takes the platform's action on overdue after-sales, with a frozen clock.

Decision: an after-sale is overdue once its deadline has *passed*. At the deadline itself the merchant
may still act, so neither the sweep nor `time_out_after_sale` touches it; one second later both do.
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from aftersales import ledger, services, tasks
from aftersales.models import AfterSale, AfterSaleLog, BuyerNotification, RefundEntry
from shop.models import Order, Parcel
from tests.aftersales.makers import make_after_sale, snapshot
from tests.conftest import at, make_order, make_parcel

S = AfterSale.Status
NOW = at("2026-11-25 12:00")
OVERDUE = NOW - timedelta(seconds=1)


@pytest.fixture
def order(shop, yto_outlet):
    order = make_order(shop, order_no="O-1001", status=Order.Status.SHIPPED, lines=[{"paid_amount": "100.00"}])
    make_parcel(order, outlet=yto_outlet, tracking_no="YT1", status=Parcel.Status.REFUSED)
    return order


@pytest.mark.parametrize(
    "status, type, to_status, refund_kind",
    [
        (S.PENDING_MERCHANT, "refund_only", "refunded", "refund_only"),
        (S.PENDING_MERCHANT, "price_protection", "refunded", "price_protection"),
        (S.REFUND_AFTER_REFUSAL, "refund_only", "refunded", "refund_only"),
        (S.AWAITING_MERCHANT_RECEIPT, "return_refund", "refunded", "return_refund"),
    ],
)
def test_an_overdue_after_sale_is_refunded_by_the_timeout(order, status, type, to_status, refund_kind):
    after_sale = make_after_sale(order, status=status, type=type, amount="60.00", deadline=OVERDUE)

    assert tasks.sweep_overdue_after_sales(now=NOW) == 1

    after_sale.refresh_from_db()
    assert (after_sale.status, after_sale.refunded_amount, after_sale.deadline) == (to_status, Decimal("60.00"), None)
    assert (after_sale.last_actor, after_sale.closed_at) == ("timeout", NOW)
    entry = RefundEntry.objects.get()
    assert (entry.kind, entry.amount, entry.actor, entry.user, entry.after_sale) == (
        refund_kind,
        Decimal("60.00"),
        "timeout",
        None,
        after_sale,
    )
    order.refresh_from_db()
    assert (order.refunded_amount, order.lines.get().refunded_amount) == (Decimal("60.00"), Decimal("60.00"))
    assert list(after_sale.logs.exclude(action="notification").values_list("action", "actor", "to_status", "at")) == [
        ("refund", "timeout", "", NOW),
        ("status", "timeout", "refunded", NOW),
    ]
    assert BuyerNotification.objects.get().kind == "refunded"


def test_an_overdue_return_and_refund_asks_the_buyer_to_return_within_7_days(order):
    after_sale = make_after_sale(order, type="return_refund", reason="quality", deadline=OVERDUE)

    assert tasks.sweep_overdue_after_sales(now=NOW) == 1

    after_sale.refresh_from_db()
    assert (after_sale.status, after_sale.deadline, after_sale.last_actor) == (
        "awaiting_buyer_return",
        NOW + timedelta(days=7),
        "timeout",
    )
    assert list(after_sale.logs.filter(action="status").values_list("actor", "from_status", "to_status", "at")) == [
        ("timeout", "pending_merchant", "awaiting_buyer_return", NOW)
    ]
    assert BuyerNotification.objects.get().kind == "return_agreed"
    assert RefundEntry.objects.count() == 0


def test_a_buyer_who_never_ships_the_return_lets_the_request_lapse(order):
    after_sale = make_after_sale(order, type="return_refund", reason="quality", status=S.AWAITING_BUYER_RETURN)
    AfterSale.objects.filter(pk=after_sale.pk).update(deadline=OVERDUE)

    assert tasks.sweep_overdue_after_sales(now=NOW) == 1

    after_sale.refresh_from_db()
    assert (after_sale.status, after_sale.deadline, after_sale.closed_at, after_sale.last_actor) == (
        "closed",
        None,
        NOW,
        "timeout",
    )
    assert RefundEntry.objects.count() == 0
    assert BuyerNotification.objects.count() == 0


def test_a_return_and_refund_left_alone_runs_its_whole_course(order):
    after_sale = make_after_sale(order, type="return_refund", reason="quality", deadline=OVERDUE)
    tasks.sweep_overdue_after_sales(now=NOW)

    assert tasks.sweep_overdue_after_sales(now=NOW + timedelta(days=7)) == 0
    assert tasks.sweep_overdue_after_sales(now=NOW + timedelta(days=7, seconds=1)) == 1

    assert AfterSale.objects.get(pk=after_sale.pk).status == "closed"


def test_arbitration_is_left_to_the_platform_operators(order):
    after_sale = make_after_sale(order, status=S.ARBITRATION)
    AfterSale.objects.filter(pk=after_sale.pk).update(deadline=OVERDUE)
    before = snapshot()

    assert tasks.sweep_overdue_after_sales(now=NOW) == 0
    assert services.time_out_after_sale(after_sale_id=after_sale.pk, now=NOW) is None

    assert snapshot() == before


@pytest.mark.parametrize(
    "deadline",
    [NOW, NOW + timedelta(seconds=1), NOW + timedelta(hours=1)],
    ids=["exactly-at-the-deadline", "a-second-before", "an-hour-before"],
)
def test_an_after_sale_not_yet_past_its_deadline_is_untouched(order, deadline):
    after_sale = make_after_sale(order, deadline=deadline)
    before = snapshot()

    assert tasks.sweep_overdue_after_sales(now=NOW) == 0
    assert services.time_out_after_sale(after_sale_id=after_sale.pk, now=NOW) is None

    assert snapshot() == before


@pytest.mark.parametrize("status", [S.REFUNDED, S.REJECTED, S.CANCELLED, S.CLOSED])
def test_closed_after_sales_are_untouched(order, status):
    after_sale = make_after_sale(order, status=status)
    before = snapshot()

    assert tasks.sweep_overdue_after_sales(now=NOW) == 0
    assert services.time_out_after_sale(after_sale_id=after_sale.pk, now=NOW) is None

    assert snapshot() == before


def test_running_the_sweep_twice_changes_nothing_more(shop):
    order = make_order(
        shop,
        order_no="O-1001",
        status=Order.Status.COMPLETED,
        lines=[{"line_no": str(i), "paid_amount": "10.00"} for i in range(1, 6)],
    )
    lines = list(order.lines.order_by("line_no"))
    make_after_sale(order, line=lines[0], deadline=OVERDUE)
    make_after_sale(order, line=lines[1], type="return_refund", reason="quality", deadline=OVERDUE)
    make_after_sale(order, line=lines[2], type="return_refund", status=S.AWAITING_MERCHANT_RECEIPT, deadline=OVERDUE)
    make_after_sale(order, line=lines[3], deadline=NOW + timedelta(minutes=1))
    make_after_sale(order, line=lines[4], status=S.ARBITRATION)

    assert tasks.sweep_overdue_after_sales(now=NOW) == 3
    after_first = snapshot()
    assert tasks.sweep_overdue_after_sales(now=NOW) == 0

    assert snapshot() == after_first
    assert RefundEntry.objects.count() == 2
    order.refresh_from_db()
    assert order.refunded_amount == Decimal("20.00")


def test_timing_out_one_after_sale_twice_acts_once(order):
    after_sale = make_after_sale(order, deadline=OVERDUE)

    first = services.time_out_after_sale(after_sale_id=after_sale.pk, now=NOW)
    after_first = snapshot()
    second = services.time_out_after_sale(after_sale_id=after_sale.pk, now=NOW)

    assert (first.status, second) == ("refunded", None)
    assert snapshot() == after_first
    assert services.time_out_after_sale(after_sale_id=999_999, now=NOW) is None


def test_the_sweep_works_through_more_than_one_batch(shop, monkeypatch):
    monkeypatch.setattr(tasks, "SWEEP_BATCH", 2)
    orders = [make_order(shop, status=Order.Status.COMPLETED, lines=[{"paid_amount": "10.00"}]) for _ in range(5)]
    for order in orders:
        make_after_sale(order, deadline=OVERDUE)

    assert tasks.sweep_overdue_after_sales(now=NOW) == 5

    assert set(AfterSale.objects.values_list("status", flat=True)) == {"refunded"}


def test_the_sweep_reads_the_clock_when_not_told_the_time(order, monkeypatch):
    make_after_sale(order, deadline=OVERDUE)
    monkeypatch.setattr(timezone, "now", lambda: NOW)

    assert tasks.sweep_overdue_after_sales() == 1

    assert AfterSaleLog.objects.get(action="status").at == NOW


def test_a_timeout_refund_pays_no_more_than_is_left_on_the_line(order):
    # A small payment after the application left 70.00 on the line: the platform refunds that much.
    after_sale = make_after_sale(order, amount="100.00", deadline=OVERDUE)
    ledger.record_refund(
        line=order.lines.get(), after_sale=None, kind="small_payment", amount=Decimal("30.00"), actor="merchant",
        idempotency_key="k",
    )  # fmt: skip

    tasks.sweep_overdue_after_sales(now=NOW)

    after_sale.refresh_from_db()
    assert (after_sale.status, after_sale.refunded_amount) == ("refunded", Decimal("70.00"))
    order.refresh_from_db()
    assert (order.refunded_amount, order.lines.get().refunded_amount) == (Decimal("100.00"), Decimal("100.00"))
