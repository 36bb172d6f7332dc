"""Formula starters reach no export as formulas: the review's cells (a buyer's nickname, a goods title,
a remark, a tracking number, and the other starters) come out of every CSV and XLSX the app writes
with a quote in front, and the amounts stay numbers. The function: shop.exports.safe_cell."""

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from openpyxl import load_workbook

from aftersales import exports as workbench_exports
from aftersales.models import AfterSale, ExportJob
from settlement.models import Reconciliation
from shop.models import Buyer, Parcel
from tests.aftersales.factories import make_after_sale_on_new_order
from tests.settlement.factories import issued_statement, make_charge
from tests.shop.factories import at, make_outlet_user

NICKNAME = '=HYPERLINK("http://x","y")'
TITLE = "+cmd|' /C calc'!A0"
REMARK = "-1+1"
TRACKING = ["=1+1", "@SUM(A1)", "\t=1", "\r=1"]


def quoted(value: str) -> str:
    return "'" + value


def csv_cells(response) -> list[list[str]]:
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))


def xlsx_cells(data: bytes) -> list[list]:
    return [list(row) for row in load_workbook(io.BytesIO(data)).active.iter_rows(values_only=True)]


def column(rows: list[list], name: str) -> list:
    index = rows[0].index(name)
    return [row[index] for row in rows[1:]]


@pytest.fixture
def en(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


@pytest.fixture
def after_sale(shop, yto_outlet):
    return make_after_sale_on_new_order(
        shop,
        status=AfterSale.Status.REFUND_AFTER_REFUSAL,
        amount="129.00",
        parcel_status=Parcel.Status.IN_TRANSIT,
        outlet=yto_outlet,
        tracking_no="=1+1",
        remark=REMARK,
        title=TITLE,
        buyer=Buyer.objects.create(external_id="b-formula", nickname=NICKNAME),
    )


def test_the_workbench_csv_neutralises_nickname_title_remark_and_tracking_number(en, merchant, after_sale):
    en.force_login(merchant)
    rows = csv_cells(en.get(reverse("aftersales:export-csv")))
    assert column(rows, "Buyer") == [quoted(NICKNAME)]
    assert column(rows, "Goods") == [quoted(TITLE)]
    assert column(rows, "Remark") == [quoted(REMARK)]
    assert column(rows, "Tracking no.") == ["'=1+1"]
    assert column(rows, "Amount") == ["129.00"]


def test_the_workbench_xlsx_neutralises_them_too_and_keeps_the_amount_a_number(merchant, after_sale):
    job = ExportJob.objects.create(shop=merchant.shop, user=merchant, format="xlsx")
    assert workbench_exports.build_xlsx(job.pk, "en") == "done"
    job.refresh_from_db()
    with job.file.open("rb") as handle:
        rows = xlsx_cells(handle.read())
    assert column(rows, "Buyer") == [quoted(NICKNAME)]
    assert column(rows, "Goods") == [quoted(TITLE)]
    assert column(rows, "Remark") == [quoted(REMARK)]
    assert column(rows, "Tracking no.") == ["'=1+1"]
    assert column(rows, "Amount") == [129]


@pytest.fixture
def hostile_service_orders(shop, yto_outlet):
    return [
        make_charge(shop, yto_outlet, when=at(f"2026-10-{day:02d} 10:00"), amount="2.50", tracking_no=tracking)
        for day, tracking in enumerate(TRACKING, start=2)
    ]


def test_the_merchants_service_order_csv_and_xlsx_neutralise_tracking_numbers(en, merchant, hostile_service_orders):
    en.force_login(merchant)
    rows = csv_cells(en.get(reverse("interception:service-orders-csv")))
    assert sorted(column(rows, "Tracking no.")) == sorted(quoted(t) for t in TRACKING)
    response = en.get(reverse("interception:service-orders-xlsx"))
    rows = xlsx_cells(b"".join(response.streaming_content))
    assert sorted(column(rows, "Tracking no.")) == sorted(quoted(t) for t in TRACKING)


def test_the_outlets_service_order_csv_neutralises_tracking_numbers(en, yto_outlet, hostile_service_orders):
    en.force_login(make_outlet_user(yto_outlet, "outlet-formula"))
    rows = csv_cells(en.get(reverse("outlet:service-orders-csv")))
    assert sorted(column(rows, "Tracking no.")) == sorted(quoted(t) for t in TRACKING)
    assert column(rows, "Fee (yuan)") == ["2.50"] * 4


def test_the_statement_csv_and_xlsx_neutralise_tracking_numbers_for_both_sides(
    en, merchant, shop, yto_outlet, hostile_service_orders
):
    statement = issued_statement(shop, yto_outlet, fees=())
    expected = [quoted(t) for t in TRACKING]
    en.force_login(merchant)
    rows = csv_cells(en.get(reverse("settlement:statement-csv", kwargs={"pk": statement.pk})))
    assert column(rows, "Tracking no.") == expected
    response = en.get(reverse("settlement:statement-xlsx", kwargs={"pk": statement.pk}))
    rows = xlsx_cells(b"".join(response.streaming_content))
    assert column(rows, "Tracking no.") == expected
    assert column(rows, "Fee (yuan)") == [2.5] * 4
    en.force_login(make_outlet_user(yto_outlet, "outlet-formula"))
    rows = csv_cells(en.get(reverse("outlet:statement-csv", kwargs={"pk": statement.pk})))
    assert column(rows, "Tracking no.") == expected


def test_the_reconciliation_differences_csv_neutralises_the_bills_tracking_numbers(en, merchant, shop, yto_outlet):
    statement = issued_statement(shop, yto_outlet, fees=("2.50",))
    bill = b"tracking_no,fee\n=1+1,1.00\n@SUM(A1),1.00\n"
    en.force_login(merchant)
    url = reverse("settlement:statement-reconcile", kwargs={"pk": statement.pk})
    en.post(url, {"bill": SimpleUploadedFile("b.csv", bill)})
    record = Reconciliation.objects.get()
    rows = csv_cells(en.get(reverse("settlement:reconciliation-csv", kwargs={"pk": record.pk})))
    by_tracking = dict(zip(column(rows, "Tracking no."), column(rows, "Difference"), strict=True))
    ours = statement.lines.get().tracking_no
    assert by_tracking == {"'=1+1": "1.00", "'@SUM(A1)": "1.00", ours: "-2.50"}  # a negative amount stays a number
