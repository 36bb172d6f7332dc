"""The merchant's service-order query on volume: a fixed number of queries, its queries read through indexes."""

import csv
import io
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import load_workbook

from bench.seed_scale import seed_scale
from interception.models import ServiceOrder
from shop.models import Shop, User


def seed(count: int) -> Shop:
    seed_scale(after_sales=count, batch=count, stdout=io.StringIO())
    return Shop.objects.get(code="scale-shop")


def page(client, params: dict) -> tuple[list[str], list[ServiceOrder]]:
    """The SQL the page ran and the service orders it listed."""
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("interception:service-orders"), params)
    assert response.status_code == 200
    return [query["sql"] for query in queries.captured_queries], [row.record for row in response.context["table"].page]


def main_query(statements: list[str]) -> str:
    """The page's query of service orders (the one with a LIMIT), not the session's or the filter form's."""
    [sql] = [sql for sql in statements if sql.startswith("SELECT") and 'FROM "interception_serviceorder"' in sql]
    assert " LIMIT " in sql
    return sql


@pytest.fixture
def scale_client(client, db):
    shop = seed(1500)
    assert ServiceOrder.objects.filter(shop=shop).count() > 120  # enough for full pages of 100 and a page 3 of 50
    client.force_login(User.objects.get(username="scale"))
    assert client.get(reverse("interception:service-orders")).status_code == 200  # warm the session
    return client


def test_the_service_order_query_costs_the_same_queries_at_any_page_size_and_on_any_page(scale_client):
    newest_first = list(
        ServiceOrder.objects.filter(shop__code="scale-shop").order_by("-created_at", "-id").values_list("pk", flat=True)
    )
    counts = {}
    for params in ({"per_page": 20}, {"per_page": 50}, {"per_page": 100}, {"per_page": 50, "page": 3}):
        statements, listed = page(scale_client, params)
        start = (int(params.get("page", 1)) - 1) * params["per_page"]
        assert [order.pk for order in listed] == newest_first[start : start + params["per_page"]]
        counts[tuple(params.items())] = len(statements)
    assert len(set(counts.values())) == 1, counts


def test_searching_by_tracking_or_after_sale_number_costs_the_same_queries_and_finds_exactly_those(scale_client):
    order, other = ServiceOrder.objects.select_related("parcel", "after_sale").order_by("id")[:2]
    statements, listed = page(scale_client, {})
    by_tracking, listed_by_tracking = page(scale_client, {"q": f" {order.parcel.tracking_no} "})
    by_number, listed_by_number = page(scale_client, {"q": other.after_sale.after_sale_no})
    _nothing, listed_for_nothing = page(scale_client, {"q": "no-such-number"})

    assert listed_by_tracking == [order]
    assert listed_by_number == [other]
    assert listed_for_nothing == []
    assert len(statements) == len(by_tracking) == len(by_number)


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="EXPLAIN plans are PostgreSQL's")
def test_the_service_order_page_query_reads_after_sales_and_service_orders_through_indexes(client, db):
    seed(5000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # realistic statistics, as a live database has them
    client.force_login(User.objects.get(username="scale"))
    order = ServiceOrder.objects.select_related("parcel").order_by("id").first()
    for params in (
        {},
        {"per_page": 100},
        {"per_page": 20, "page": 3},
        {"sort": "created_at"},
        {"q": order.parcel.tracking_no},
    ):
        statements, listed = page(client, params)
        assert listed
        sql = main_query(statements)
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN {sql}")
            plan = "\n".join(row[0] for row in cursor.fetchall())
        scanned = re.findall(r"Seq Scan on (\w+)", plan)
        assert not {"aftersales_aftersale", "interception_serviceorder"} & set(scanned), f"{params}\n{sql}\n{plan}"


def test_the_csv_and_xlsx_exports_hold_the_listed_rows_cell_for_cell(scale_client):
    params = {"status": "failed"}
    failed = ServiceOrder.objects.filter(shop__code="scale-shop", status="failed").order_by("-created_at", "-id")
    assert failed.count() > 1

    csv_response = scale_client.get(reverse("interception:service-orders-csv"), params)
    csv_rows = list(csv.reader(io.StringIO(b"".join(csv_response.streaming_content).decode("utf-8-sig"))))
    xlsx_response = scale_client.get(reverse("interception:service-orders-xlsx"), params)
    workbook = load_workbook(io.BytesIO(b"".join(xlsx_response.streaming_content)), read_only=True)
    xlsx_rows = [
        ["" if value is None else value for value in row] for row in workbook.active.iter_rows(values_only=True)
    ]

    assert csv_rows[0][:3] == ["Service order", "After-sale", "Order no."]
    # Failed interceptions cost nothing: no fee, as in the fee ledger; codes read as labels.
    assert {(row[7], row[9]) for row in csv_rows[1:]} == {("", "failed")}
    assert [row[0] for row in csv_rows[1:]] == [order.number for order in failed]
    assert xlsx_rows == csv_rows
    assert workbook.active.title == "service orders"
