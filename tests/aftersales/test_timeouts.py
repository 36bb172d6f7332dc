"""Timeouts: the every-minute sweep takes the platform's action on overdue after-sales, with a frozen clock.

Decision: an after-sale is overdue once its deadline has *passed*. At the deadline itself the merchant
may still act, so neither the sweep nor `time_out_after_sale` touches it; one second later both do.
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from aftersales import ledger, notifications, services, tasks
from aftersales.models import AfterSale, AfterSaleLog, BuyerNotification, RefundEntry
from aftersales.services import timeouts
from shop.models import Order, OrderLine, Parcel
from tests.aftersales.factories import make_after_sale, snapshot
from tests.shop.factories import at, make_order, make_parcel

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


# --- the sweep's chunks (aftersales.timeouts) ----------------------------------------------------
def timeout_outcome(after_sale: AfterSale) -> dict:
    """What a timeout wrote about one after-sale, ids and numbers left out: two paths compare equal."""
    after_sale.refresh_from_db()
    line = OrderLine.objects.get(pk=after_sale.line_id)
    return {
        "after_sale": AfterSale.objects.filter(pk=after_sale.pk)
        .values("status", "refunded_amount", "deadline", "closed_at", "last_actor", "version")
        .get(),
        "logs": list(
            after_sale.logs.order_by("at", "id").values_list(
                "action", "actor", "from_status", "to_status", "message", "at"
            )
        ),
        "refunds": [
            (entry.kind, entry.amount, entry.actor, entry.reason, entry.user_id, entry.idempotency_key.split(":")[0])
            for entry in RefundEntry.objects.filter(line=line).order_by("id")
        ],
        "refund_keys_of_the_after_sale": [
            key.replace(str(after_sale.pk), "<id>")
            for key in RefundEntry.objects.filter(after_sale=after_sale).values_list("idempotency_key", flat=True)
        ],
        "notifications": [
            (
                n.kind,
                n.status,
                n.line_id == line.pk,
                {k: v for k, v in n.payload.items() if not k.endswith(("_no", "_id"))},
            )
            for n in BuyerNotification.objects.filter(after_sale=after_sale).order_by("id")
        ],
        "counters": (line.refunded_amount, Order.objects.get(pk=after_sale.order_id).refunded_amount),
    }


TIMEOUT_CASES = {
    # name: (status, type, amount, small payment before, deadline)
    "refund-only-waiting-for-the-merchant": (S.PENDING_MERCHANT, "refund_only", "100.00", None, OVERDUE),
    "price-protection": (S.PENDING_MERCHANT, "price_protection", "15.00", None, OVERDUE),
    "refund-after-refusal": (S.REFUND_AFTER_REFUSAL, "refund_only", "100.00", None, OVERDUE),
    "goods-received-back": (S.AWAITING_MERCHANT_RECEIPT, "return_refund", "100.00", None, OVERDUE),
    "return-waiting-for-the-merchant": (S.PENDING_MERCHANT, "return_refund", "100.00", None, OVERDUE),
    "return-never-shipped": (S.AWAITING_BUYER_RETURN, "return_refund", "100.00", None, OVERDUE),
    "capped-by-a-small-payment": (S.PENDING_MERCHANT, "refund_only", "100.00", "30.00", OVERDUE),
    "line-used-up-by-a-small-payment": (S.PENDING_MERCHANT, "refund_only", "100.00", "100.00", OVERDUE),
    "exactly-at-the-deadline": (S.PENDING_MERCHANT, "refund_only", "100.00", None, NOW),
    "arbitration": (S.ARBITRATION, "refund_only", "100.00", None, OVERDUE),
    "already-refunded": (S.REFUNDED, "refund_only", "100.00", None, None),
}


@pytest.mark.parametrize("case", TIMEOUT_CASES.values(), ids=TIMEOUT_CASES.keys())
def test_a_chunk_times_out_each_after_sale_exactly_as_the_single_service_does(shop, case):
    status, type, amount, small_payment, deadline = case
    pair = []
    for _path in ("single", "chunk"):
        order = make_order(shop, status=Order.Status.COMPLETED, lines=[{"paid_amount": "100.00"}])
        reason = "price_drop" if type == "price_protection" else "quality"
        after_sale = make_after_sale(order, status=status, type=type, reason=reason, amount=amount, deadline=deadline)
        if small_payment:
            ledger.record_refund(
                line=order.lines.get(), after_sale=None, kind="small_payment", amount=Decimal(small_payment),
                actor="merchant", idempotency_key=f"small:{after_sale.pk}",
            )  # fmt: skip
        pair.append(after_sale)
    single, chunk = pair

    acted = services.time_out_after_sale(after_sale_id=single.pk, now=NOW)
    result = timeouts.time_out_after_sales(after_sale_ids=[chunk.pk], now=NOW)

    assert (result.handled, result.contended, result.failed) == (([chunk.pk] if acted else []), [], [])
    assert timeout_outcome(chunk) == timeout_outcome(single)


def test_a_chunk_run_twice_acts_once(shop):
    orders = [make_order(shop, status=Order.Status.COMPLETED, lines=[{"paid_amount": "10.00"}]) for _ in range(3)]
    ids = [make_after_sale(order, deadline=OVERDUE).pk for order in orders]

    assert timeouts.time_out_after_sales(after_sale_ids=ids, now=NOW).handled == ids
    after_first = snapshot()
    assert timeouts.time_out_after_sales(after_sale_ids=ids, now=NOW).handled == []

    assert snapshot() == after_first
    assert timeouts.time_out_after_sales(after_sale_ids=[999_999], now=NOW) == timeouts.ChunkResult()


def test_two_after_sales_of_one_order_are_refunded_together_within_what_was_paid(shop):
    order = make_order(
        shop,
        status=Order.Status.COMPLETED,
        lines=[{"line_no": "1", "paid_amount": "30.00"}, {"line_no": "2", "paid_amount": "20.00"}],
    )
    first, second = (make_after_sale(order, line=line, deadline=OVERDUE) for line in order.lines.order_by("line_no"))

    assert tasks.sweep_overdue_after_sales(now=NOW) == 2

    order.refresh_from_db()
    assert order.refunded_amount == Decimal("50.00")
    assert sorted(RefundEntry.objects.values_list("after_sale_id", "amount")) == [
        (first.pk, Decimal("30.00")),
        (second.pk, Decimal("20.00")),
    ]


def overdue_mix(shop, count: int) -> list[AfterSale]:
    """`count` overdue after-sales cycling through every kind of timeout: refunds, transitions, closures."""
    kinds = [
        (S.PENDING_MERCHANT, "refund_only"),
        (S.PENDING_MERCHANT, "return_refund"),
        (S.AWAITING_BUYER_RETURN, "return_refund"),
        (S.AWAITING_MERCHANT_RECEIPT, "return_refund"),
        (S.REFUND_AFTER_REFUSAL, "refund_only"),
    ]
    made = []
    for i in range(count):
        status, type = kinds[i % len(kinds)]
        order = make_order(shop, status=Order.Status.COMPLETED, lines=[{"paid_amount": "20.00"}])
        made.append(make_after_sale(order, status=status, type=type, reason="quality", deadline=OVERDUE))
    return made


def test_the_sweep_runs_the_same_number_of_queries_for_5_or_40_after_sales(shop):
    def sweep_queries(count: int) -> int:
        overdue_mix(shop, count)
        with CaptureQueriesContext(connection) as captured:
            assert tasks.sweep_overdue_after_sales(now=NOW) == count
        return len(captured)

    few, many = sweep_queries(5), sweep_queries(40)

    assert few == many  # a fixed count per chunk of SWEEP_BATCH, whatever the chunk holds
    assert many <= 30


def test_an_after_sale_the_ledger_would_refuse_is_left_alone_and_the_others_are_timed_out(shop, caplog):
    orders = [make_order(shop, status=Order.Status.COMPLETED, lines=[{"paid_amount": "50.00"}]) for _ in range(3)]
    after_sales = [make_after_sale(order, deadline=OVERDUE) for order in orders]
    # The order's counter says all of it was refunded (an off-line refund recorded on the order only):
    # refunding the line would take the order above what was paid.
    Order.objects.filter(pk=orders[1].pk).update(refunded_amount=Decimal("50.00"))

    assert tasks.sweep_overdue_after_sales(now=NOW) == 2

    assert [AfterSale.objects.get(pk=a.pk).status for a in after_sales] == ["refunded", "pending_merchant", "refunded"]
    assert not RefundEntry.objects.filter(after_sale=after_sales[1]).exists()
    assert not after_sales[1].logs.exists()
    assert f"timeout of after-sale {after_sales[1].pk} failed" in caplog.text


def test_when_a_chunk_cannot_be_written_at_once_each_after_sale_is_timed_out_in_its_own_savepoint(
    shop, monkeypatch, caplog
):
    after_sales = overdue_mix(shop, 5)
    broken = after_sales[0]  # a refund whose buyer notification fails: its refund must not stay either

    def refuse(refunds):
        raise IntegrityError("simulated: a row the checks did not foresee")

    real_notify = notifications.notify_buyer

    def notify(after_sale, kind, **kwargs):
        if after_sale.pk == broken.pk:
            raise RuntimeError("simulated: this one is broken")
        return real_notify(after_sale, kind, **kwargs)

    monkeypatch.setattr(ledger, "record_refunds", refuse)
    monkeypatch.setattr(notifications, "notify_buyer", notify)

    result = timeouts.time_out_after_sales(after_sale_ids=[a.pk for a in after_sales], now=NOW)

    assert (result.handled, result.failed) == ([a.pk for a in after_sales[1:]], [broken.pk])
    assert [AfterSale.objects.get(pk=a.pk).status for a in after_sales] == [
        "pending_merchant",
        "awaiting_buyer_return",
        "closed",
        "refunded",
        "refunded",
    ]
    broken.refresh_from_db()
    assert (broken.refunded_amount, broken.version, broken.logs.count()) == (Decimal("0.00"), 1, 0)
    assert OrderLine.objects.get(pk=broken.line_id).refunded_amount == Decimal("0.00")
    assert sorted(RefundEntry.objects.values_list("after_sale_id", flat=True)) == [a.pk for a in after_sales[3:]]
    assert "one by one instead" in caplog.text
    assert f"timeout of after-sale {broken.pk} failed" in caplog.text


def test_the_sweep_of_one_shop_leaves_other_shops_alone(shop, other_shop):
    ours = overdue_mix(shop, 3)
    theirs = overdue_mix(other_shop, 2)

    assert tasks.sweep_overdue_after_sales(now=NOW, shop_id=shop.pk) == 3

    assert [AfterSale.objects.get(pk=a.pk).version for a in theirs] == [1, 1]
    assert all(AfterSale.objects.get(pk=a.pk).last_actor == "timeout" for a in ours)
    assert tasks.sweep_overdue_after_sales(now=NOW) == 2


def test_the_sweep_acts_on_no_more_than_its_limit(shop):
    overdue_mix(shop, 5)

    assert tasks.sweep_overdue_after_sales(3, now=NOW) == 3
    assert tasks.sweep_overdue_after_sales(now=NOW) == 2
