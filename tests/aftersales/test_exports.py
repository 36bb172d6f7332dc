"""Workbench exports: the streamed CSV and the XLSX job hold exactly the filtered rows of the shop."""

import csv
import io
import re
from datetime import datetime
from io import BytesIO

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import load_workbook

from aftersales import exports
from aftersales.models import AfterSale, ExportJob
from shop import streaming
from shop.models import Buyer, Parcel
from tests.aftersales.factories import make_after_sale_on_new_order
from tests.shop.factories import at

S = AfterSale.Status

HEADER = [
    "After-sale no.",
    "Order no.",
    "Goods",
    "Type",
    "Reason",
    "Amount",
    "Refunded",
    "Status",
    "Application no.",
    "Repeat refund",
    "Flag",
    "Remark",
    "Buyer",
    "Buyer id",
    "Courier",
    "Tracking no.",
    "Logistics status",
    "Applied at",
    "Deadline",
]


@pytest.fixture
def en(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


@pytest.fixture
def rows(shop, other_shop, yto_outlet):
    in_transit = make_after_sale_on_new_order(
        shop,
        no="AS-CSV-1",
        order_no="O-CSV-1",
        status=S.REFUND_AFTER_REFUSAL,
        amount="129.00",
        parcel_status=Parcel.Status.IN_TRANSIT,
        outlet=yto_outlet,
        tracking_no="YT1234567890",
        deadline=at("2026-11-29 10:15"),
        applied_at=at("2026-11-22 10:15"),
        flag=AfterSale.Flag.BLUE,
        remark='intercept, "soon"',
        buyer=Buyer.objects.create(external_id="b-csv-1", nickname="小王"),
    )
    refunded = make_after_sale_on_new_order(
        shop,
        no="AS-CSV-2",
        order_no="O-CSV-2",
        status=S.REFUNDED,
        type=AfterSale.Type.PRICE_PROTECTION,
        reason=AfterSale.Reason.PRICE_DROP,
        amount="10.00",
        refunded="10.00",
        applied_at=at("2026-11-18 12:00"),
        multi_refund=True,
        sequence=2,
        title="杯盖",
        buyer=Buyer.objects.create(external_id="b-csv-2", nickname="小李"),
    )
    other = make_after_sale_on_new_order(other_shop, no="AS-CSV-OTHER", deadline=at("2026-11-23 10:00"))
    return {"in_transit": in_transit, "refunded": refunded, "other": other}


ROW_1 = (
    'AS-CSV-1,O-CSV-1,保温杯,refund only,not received,129.00,0.00,refund after refusal,1,no,blue,"intercept, ""soon""",'
    "小王,b-csv-1,圆通,YT1234567890,in transit,2026-11-22 10:15,2026-11-29 10:15\r\n"
)
ROW_2 = (
    "AS-CSV-2,O-CSV-2,杯盖,price protection,price drop,10.00,10.00,refunded,2,yes,,,"
    "小李,b-csv-2,,,,2026-11-18 12:00,\r\n"
)


def csv_of(response) -> str:
    assert response.status_code == 200
    return b"".join(response.streaming_content).decode("utf-8")


# --- CSV -----------------------------------------------------------------------------------------
def test_csv_holds_the_shops_rows_in_workbench_order_with_a_bom_for_excel(en, merchant, rows):
    en.force_login(merchant)
    response = en.get(reverse("aftersales:export-csv"))

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="aftersales-')
    assert csv_of(response) == "\ufeff" + ",".join(HEADER) + "\r\n" + ROW_1 + ROW_2


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"status": "refunded"}, ROW_2),
        ({"logistics": "in_transit", "courier": "YTO"}, ROW_1),
        ({"q": "YT1234567890"}, ROW_1),
        ({"q": "AS-CSV-OTHER"}, ""),
        ({"courier": "NOPE"}, ""),  # an invalid filter lists nothing on the page, so it exports nothing
    ],
)
def test_csv_holds_exactly_the_filtered_rows(en, merchant, rows, query, expected):
    en.force_login(merchant)
    assert csv_of(en.get(reverse("aftersales:export-csv"), query)) == "\ufeff" + ",".join(HEADER) + "\r\n" + expected


def test_another_shop_exports_only_its_own_rows(en, other_merchant, rows):
    en.force_login(other_merchant)
    body = csv_of(en.get(reverse("aftersales:export-csv")))
    assert [line.split(",")[0] for line in body.splitlines()[1:]] == ["AS-CSV-OTHER"]


def test_workbench_export_links_carry_the_filters_only(client, merchant, rows):
    client.force_login(merchant)
    html = client.get(reverse("aftersales:workbench"), {"status": "refunded", "page": "1", "sort": "-deadline"})
    html = html.content.decode()
    assert f'href="{reverse("aftersales:export-csv")}?status=refunded"' in html
    assert f'action="{reverse("aftersales:export-start")}?status=refunded"' in html


# --- XLSX job ------------------------------------------------------------------------------------
def sheet_rows(job: ExportJob) -> list[tuple]:
    with job.file.open("rb") as handle:
        workbook = load_workbook(BytesIO(handle.read()), read_only=True)
    return [tuple(row) for row in workbook.active.iter_rows(values_only=True)]


def test_xlsx_export_runs_in_the_worker_and_builds_a_readable_file(
    en, merchant, rows, django_capture_on_commit_callbacks
):
    en.force_login(merchant)
    url = reverse("aftersales:export-start") + "?status=refund_after_refusal&page=2&sort=-deadline"
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = en.post(url)

    job = ExportJob.objects.get()
    assert len(callbacks) == 1
    assert response.status_code == 302
    assert response["Location"] == reverse("aftersales:export-detail", kwargs={"pk": job.pk})
    assert (job.shop, job.user, job.format, job.query) == (
        merchant.shop,
        merchant,
        "xlsx",
        "status=refund_after_refusal",
    )
    assert (job.status, job.rows_total, job.rows_done, job.error) == ("done", 1, 1, "")
    assert job.finished_at is not None
    assert sheet_rows(job) == [
        tuple(HEADER),
        (
            "AS-CSV-1",
            "O-CSV-1",
            "保温杯",
            "refund only",
            "not received",
            129,
            0,
            "refund after refusal",
            1,
            "no",
            "blue",
            'intercept, "soon"',
            "小王",
            "b-csv-1",
            "圆通",
            "YT1234567890",
            "in transit",
            datetime(2026, 11, 22, 10, 15),
            datetime(2026, 11, 29, 10, 15),
        ),
    ]


def test_xlsx_download_serves_the_file_and_the_detail_page_links_it(
    en, merchant, rows, django_capture_on_commit_callbacks
):
    en.force_login(merchant)
    with django_capture_on_commit_callbacks(execute=True):
        en.post(reverse("aftersales:export-start"))
    job = ExportJob.objects.get()

    detail = en.get(reverse("aftersales:export-detail", kwargs={"pk": job.pk})).content.decode()
    download_url = reverse("aftersales:export-download", kwargs={"pk": job.pk})
    assert f'href="{download_url}"' in detail
    assert 'http-equiv="refresh"' not in detail

    response = en.get(download_url)
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="aftersales-')
    body = b"".join(response.streaming_content)
    workbook = load_workbook(BytesIO(body), read_only=True)
    assert [row[0] for row in workbook.active.iter_rows(values_only=True)] == [HEADER[0], "AS-CSV-1", "AS-CSV-2"]


def test_a_running_export_page_refreshes_itself_and_offers_no_download(en, merchant, rows):
    job = ExportJob.objects.create(shop=merchant.shop, user=merchant, format="xlsx", status="running", rows_total=4000)
    ExportJob.objects.filter(pk=job.pk).update(rows_done=1000)
    en.force_login(merchant)
    html = en.get(reverse("aftersales:export-detail", kwargs={"pk": job.pk})).content.decode()
    assert '<meta http-equiv="refresh" content="2">' in html
    assert '<progress class="export-progress" max="100" value="25">' in html
    assert "1000 / 4000" in html
    assert en.get(reverse("aftersales:export-download", kwargs={"pk": job.pk})).status_code == 404


def test_building_a_done_job_again_leaves_it_alone(merchant, rows):
    job = ExportJob.objects.create(shop=merchant.shop, user=merchant, format="xlsx")
    assert exports.build_xlsx(job.pk, "en") == "done"
    job.refresh_from_db()
    first = (job.file.name, job.finished_at, job.rows_done)

    assert exports.build_xlsx(job.pk, "en") == "done"
    job.refresh_from_db()
    assert (job.file.name, job.finished_at, job.rows_done) == first
    assert first[2] == 2


def test_a_job_left_running_by_a_killed_worker_is_rebuilt(merchant, rows):
    job = ExportJob.objects.create(shop=merchant.shop, user=merchant, format="xlsx", status="running", rows_done=7)
    assert exports.build_xlsx(job.pk, "en") == "done"
    job.refresh_from_db()
    assert (job.status, job.rows_total, job.rows_done) == ("done", 2, 2)
    assert [row[0] for row in sheet_rows(job)] == ["After-sale no.", "AS-CSV-1", "AS-CSV-2"]


def test_the_job_replays_the_filters_for_its_own_shop_only(other_merchant, rows):
    job = ExportJob.objects.create(shop=other_merchant.shop, user=other_merchant, format="xlsx", query="q=AS-CSV-1")
    exports.build_xlsx(job.pk, "en")
    job.refresh_from_db()
    assert (job.status, job.rows_done) == ("done", 0)
    assert sheet_rows(job) == [tuple(HEADER)]


def test_a_failing_export_is_marked_failed_with_the_reason(en, merchant, rows, monkeypatch):
    def broken(job):
        raise OSError("disk full")

    monkeypatch.setattr(exports, "_write_xlsx", broken)
    job = ExportJob.objects.create(shop=merchant.shop, user=merchant, format="xlsx")
    assert exports.build_xlsx(job.pk, "en") == "failed"
    job.refresh_from_db()
    assert (job.status, job.error, job.file.name) == ("failed", "disk full", "")
    en.force_login(merchant)
    html = en.get(reverse("aftersales:export-detail", kwargs={"pk": job.pk})).content.decode()
    assert "The export failed." in html and "disk full" in html
    assert 'http-equiv="refresh"' not in html


def test_progress_is_written_while_the_rows_are(merchant, rows, monkeypatch):
    monkeypatch.setattr(exports, "PROGRESS_EVERY", 1)
    job = ExportJob.objects.create(shop=merchant.shop, user=merchant, format="xlsx")
    with CaptureQueriesContext(connection) as queries:
        exports.build_xlsx(job.pk, "en")
    progress = [re.search(r'SET "rows_done" = (\d+) WHERE', q["sql"]) for q in queries.captured_queries]
    assert [int(match.group(1)) for match in progress if match] == [1, 2]


def test_another_shops_export_page_and_file_are_404(client, merchant, other_merchant, rows):
    job = ExportJob.objects.create(shop=merchant.shop, user=merchant, format="xlsx")
    exports.build_xlsx(job.pk, "en")
    client.force_login(other_merchant)
    assert client.get(reverse("aftersales:export-detail", kwargs={"pk": job.pk})).status_code == 404
    assert client.get(reverse("aftersales:export-download", kwargs={"pk": job.pk})).status_code == 404


def test_starting_an_export_refuses_get(client, merchant):
    client.force_login(merchant)
    assert client.get(reverse("aftersales:export-start")).status_code == 405
    assert not ExportJob.objects.exists()


# --- many rows, tricky values --------------------------------------------------------------------
@pytest.fixture
def tricky(shop, yto_outlet):
    """Five after-sales whose cells need quoting or escaping, deadlines one hour apart (so in this order)."""
    texts = ["a, b", 'say "hi"', "两行\n备注", "<b>&amp;</b>", " =1+1 "]
    for i, text in enumerate(texts):
        make_after_sale_on_new_order(
            shop,
            no=f"AS-T{i}",
            order_no=f"O-T{i}",
            remark=text,
            title=f"杯子 {text}",
            parcel_status=Parcel.Status.SIGNED if i % 2 else None,
            outlet=yto_outlet,
            tracking_no=f"YT-T{i}",
            deadline=at(f"2026-11-29 1{i}:00"),
            applied_at=at(f"2026-11-22 1{i}:05"),
            buyer=Buyer.objects.create(external_id=f"b-t{i}", nickname=text),
        )
    return texts


def tricky_row(i: int, text: str) -> list[str]:
    shipped = i % 2 == 1
    return [
        f"AS-T{i}",
        f"O-T{i}",
        f"杯子 {text}",
        "refund only",
        "not received",
        "50.00",
        "0.00",
        "pending merchant",
        "1",
        "no",
        "",
        text,
        text,
        f"b-t{i}",
        "圆通" if shipped else "",
        f"YT-T{i}" if shipped else "",
        "signed" if shipped else "",
        f"2026-11-22 1{i}:05",
        f"2026-11-29 1{i}:00",
    ]


def test_csv_quotes_commas_quotes_line_breaks_and_chinese_and_leaves_missing_values_empty(en, merchant, tricky):
    en.force_login(merchant)
    body = csv_of(en.get(reverse("aftersales:export-csv")))

    assert body.startswith("\ufeff")
    parsed = list(csv.reader(io.StringIO(body[1:], newline="")))
    assert parsed == [HEADER] + [tricky_row(i, text) for i, text in enumerate(tricky)]
    assert '"a, b"' in body and '"say ""hi"""' in body and '"两行\n备注"' in body


def test_csv_streams_whole_lines_a_piece_at_a_time_with_the_header_first(en, merchant, tricky, monkeypatch):
    en.force_login(merchant)
    whole = csv_of(en.get(reverse("aftersales:export-csv")))
    monkeypatch.setattr(streaming, "ROWS_PER_PIECE", 2)

    pieces = [piece.decode() for piece in en.get(reverse("aftersales:export-csv")).streaming_content]

    assert "".join(pieces) == whole
    assert pieces[0] == "\ufeff" + ",".join(HEADER) + "\r\n"  # before the query runs
    assert [len(list(csv.reader(io.StringIO(piece, newline="")))) for piece in pieces[1:]] == [2, 2, 1]


def test_xlsx_holds_the_csv_cells_with_numbers_and_times_typed_and_missing_values_blank(en, merchant, rows):
    job = ExportJob.objects.create(shop=merchant.shop, user=merchant, format="xlsx")
    exports.build_xlsx(job.pk, "en")
    job.refresh_from_db()

    assert sheet_rows(job)[2] == (
        "AS-CSV-2",
        "O-CSV-2",
        "杯盖",
        "price protection",
        "price drop",
        10,
        10,
        "refunded",
        2,
        "yes",
        None,
        None,
        "小李",
        "b-csv-2",
        None,
        None,
        None,
        datetime(2026, 11, 18, 12, 0),
        None,
    )


def test_xlsx_keeps_tricky_text_as_is(merchant, tricky):
    job = ExportJob.objects.create(shop=merchant.shop, user=merchant, format="xlsx")
    exports.build_xlsx(job.pk, "en")
    job.refresh_from_db()

    cells = sheet_rows(job)[1:]
    assert [row[11] for row in cells] == [row[12] for row in cells] == tricky
    assert [row[2] for row in cells] == [f"杯子 {text}" for text in tricky]


def test_xlsx_progress_is_written_every_progress_step_not_every_row(merchant, tricky, monkeypatch):
    monkeypatch.setattr(exports, "PROGRESS_EVERY", 2)
    job = ExportJob.objects.create(shop=merchant.shop, user=merchant, format="xlsx")
    with CaptureQueriesContext(connection) as queries:
        exports.build_xlsx(job.pk, "en")

    progress = [re.search(r'SET "rows_done" = (\d+) WHERE', q["sql"]) for q in queries.captured_queries]
    assert [int(match.group(1)) for match in progress if match] == [2, 4]
    job.refresh_from_db()
    assert (job.status, job.rows_total, job.rows_done) == ("done", 5, 5)
