"""seed_scale: N after-sales in every status with consistent counters, and the workbench on that volume."""

import io
from collections import defaultdict
from decimal import Decimal

import pytest
from django.core.management import CommandError
from django.db import connection
from django.db.models import Count, F
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from aftersales.models import AfterSale, AfterSaleLog, RefundEntry
from bench.seed_scale import seed_scale
from interception.models import FeeCharge, ServiceOrder
from shop import keyset
from shop.models import Order, OrderLine, Parcel, Shop, User


def seed(count: int, **options) -> str:
    out = io.StringIO()
    seed_scale(after_sales=count, stdout=out, **options)
    return out.getvalue()


@pytest.fixture
def scale_shop(db):
    output = seed(500, batch=200)
    assert "rows/s" in output
    return Shop.objects.get(code="scale-shop")


def test_seeds_exactly_the_after_sales_asked_for_in_every_status(scale_shop):
    after_sales = AfterSale.objects.filter(shop=scale_shop)
    assert after_sales.count() == 500
    assert set(after_sales.values_list("status", flat=True)) == set(AfterSale.Status.values)
    assert set(after_sales.values_list("type", flat=True)) == set(AfterSale.Type.values)
    parcels = Parcel.objects.filter(order__shop=scale_shop)
    assert set(parcels.values_list("status", flat=True)) == set(Parcel.Status.values)
    assert after_sales.filter(parcel__isnull=True).exists()  # refund only before shipping
    assert ServiceOrder.objects.filter(shop=scale_shop).exists()
    assert (
        FeeCharge.objects.filter(shop=scale_shop).count()
        == ServiceOrder.objects.filter(shop=scale_shop, succeeded_at__isnull=False).count()
    )
    assert AfterSaleLog.objects.filter(after_sale__shop=scale_shop, action="applied").count() == 500
    user = User.objects.get(username="scale")
    assert user.shop == scale_shop and user.is_merchant and user.check_password("demo-pass")


def test_deadlines_are_spread_over_the_coming_days_and_some_are_overdue(scale_shop):
    now = timezone.now()
    after_sales = AfterSale.objects.filter(shop=scale_shop)
    open_ones = after_sales.filter(status__in=AfterSale.OPEN_STATUSES)
    assert open_ones.count() > 100
    assert not open_ones.filter(deadline__isnull=True).exists()
    assert open_ones.filter(deadline__lt=now).exists()
    assert open_ones.filter(deadline__gte=now, deadline__lt=now + timezone.timedelta(hours=12)).exists()
    assert open_ones.filter(deadline__gte=now + timezone.timedelta(days=2)).exists()
    closed = after_sales.exclude(status__in=AfterSale.OPEN_STATUSES)
    assert not closed.filter(deadline__isnull=False).exists()
    assert not closed.filter(closed_at__isnull=True).exists()
    assert not after_sales.filter(applied_at__gt=now).exists()


def test_refund_counters_equal_the_ledger_and_constraints_hold(scale_shop):
    connection.check_constraints()
    after_sales = AfterSale.objects.filter(shop=scale_shop)
    refunded = after_sales.filter(status=AfterSale.Status.REFUNDED)
    assert RefundEntry.objects.filter(shop=scale_shop).count() == refunded.count() > 0
    assert not refunded.filter(refunded_amount__lte=0).exists()
    assert not after_sales.exclude(status=AfterSale.Status.REFUNDED).filter(refunded_amount__gt=0).exists()
    assert not after_sales.filter(refunded_amount__gt=F("amount")).exists()
    # Summed in Python: SQLite sums decimals as floats.
    ledger = {"after_sale": defaultdict(Decimal), "line": defaultdict(Decimal), "order": defaultdict(Decimal)}
    for after_sale_id, line_id, order_id, amount in RefundEntry.objects.filter(shop=scale_shop).values_list(
        "after_sale_id", "line_id", "order_id", "amount"
    ):
        ledger["after_sale"][after_sale_id] += amount
        ledger["line"][line_id] += amount
        ledger["order"][order_id] += amount
    for pk, counter in after_sales.values_list("pk", "refunded_amount"):
        assert counter == ledger["after_sale"][pk]
    lines_paid = defaultdict(Decimal)
    for pk, order_id, paid, counter in OrderLine.objects.filter(order__shop=scale_shop).values_list(
        "pk", "order_id", "paid_amount", "refunded_amount"
    ):
        assert counter == ledger["line"][pk] <= paid
        lines_paid[order_id] += paid
    for pk, paid, counter in Order.objects.filter(shop=scale_shop).values_list("pk", "paid_amount", "refunded_amount"):
        assert counter == ledger["order"][pk] <= paid == lines_paid[pk]
    # Several applications on one order are numbered 1, 2, …; at most one open per line.
    assert after_sales.filter(sequence=2).exists()
    open_per_line = (
        after_sales.filter(status__in=AfterSale.OPEN_STATUSES).values("line").annotate(n=Count("id")).filter(n__gt=1)
    )
    assert not open_per_line.exists()


def test_refuses_a_shop_that_already_has_after_sales_unless_appending(scale_shop):
    with pytest.raises(CommandError, match="--append"):
        seed(10)
    seed(20, append=True)
    assert AfterSale.objects.filter(shop=scale_shop).count() == 520
    connection.check_constraints()


def page_queries(client, params: dict) -> tuple[int, list[str]]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("aftersales:workbench"), params)
    assert response.status_code == 200
    assert len(response.context["table"].data) == int(params.get("per_page", 50))
    return len(queries.captured_queries), [q["sql"] for q in queries.captured_queries]


def deep_cursor(shop: Shop, position: int) -> str:
    """The workbench cursor just before `position` (1-based) in its default order."""
    rows = AfterSale.objects.filter(shop=shop).order_by(F("deadline").asc(nulls_last=True), "id")
    return keyset.Cursor(*rows.values_list("deadline", "id")[position - 2]).token


GUARDED_LISTS = [
    {},
    {"status": "pending_merchant"},
    {"status": "open", "type": "refund_only", "logistics": "in_transit"},
    {"status": "open", "deadline_within": "24"},
    {"type": "refund_only", "amount_min": "10", "amount_max": "500"},
]


def test_the_workbench_costs_the_same_queries_at_any_page_size_and_depth(client, db):
    seed(3000, batch=3000)
    client.force_login(User.objects.get(username="scale"))
    assert client.get(reverse("aftersales:workbench")).status_code == 200  # warm the session
    for params in GUARDED_LISTS:
        first, _ = page_queries(client, {**params, "per_page": 20})
        assert page_queries(client, {**params, "per_page": 100})[0] == first, params
        response = client.get(reverse("aftersales:workbench"), {**params, "per_page": 20})
        after = response.context["table"].keyset.next_token
        assert page_queries(client, {**params, "per_page": 20, "after": after})[0] == first, params


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="EXPLAIN plans are PostgreSQL's")
def test_every_workbench_query_reads_the_after_sales_through_an_index(client, db):
    seed(5000, batch=5000)
    shop = Shop.objects.get(code="scale-shop")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    client.force_login(User.objects.get(username="scale"))
    deep = deep_cursor(shop, 1500)
    for params in [*GUARDED_LISTS, {"after": deep}, {"sort": "-deadline", "after": deep}, {"q": "no-such-number"}]:
        _count, statements = page_queries(client, params) if "q" not in params else (0, search_queries(client, params))
        touching = [sql for sql in statements if "aftersales_aftersale" in sql]
        assert touching
        for sql in touching:
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN " + sql)
                plan = "\n".join(row[0] for row in cursor.fetchall())
            assert "Seq Scan on aftersales_aftersale" not in plan, f"{params}\n{sql}\n{plan}"


def search_queries(client, params) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("aftersales:workbench"), params).status_code == 200
    return [q["sql"] for q in queries.captured_queries]
