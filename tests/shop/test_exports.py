"""The one export-cell function: formula starters neutralised in text cells, numbers kept as numbers,
and no module but shop/streaming.py writes CSV or XLSX (the guard below)."""

import csv
import io
import re
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils.functional import lazy
from openpyxl import load_workbook

from shop import streaming
from shop.exports import safe_cell

ROOT = Path(__file__).resolve().parents[2]

# The cells of the review, and the other starters of OWASP's list.
HOSTILE = [
    ('=HYPERLINK("http://x","y")', '\'=HYPERLINK("http://x","y")'),  # a buyer's nickname
    ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),  # a goods title
    ("-1+1", "'-1+1"),  # a remark: text, so neutralised although it reads like arithmetic
    ("=1+1", "'=1+1"),  # a tracking number
    ("@SUM(A1)", "'@SUM(A1)"),
    ("\t=1", "'\t=1"),
    ("\r=1", "'\r=1"),
]


@pytest.mark.parametrize("value, expected", HOSTILE)
def test_text_starting_a_formula_gets_a_quote_in_front(value, expected):
    assert safe_cell(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "YT1234567890",
        "小王",
        "a=b",
        " =1",  # a leading space: no spreadsheet program reads a formula
        "-3.00",  # money written as text by the CSV exports stays a number
        "+86",
        "-5",
        Decimal("-3.00"),
        -3,
        -2.5,
        True,
        date(2026, 11, 22),
        datetime(2026, 11, 22, 10, 15),
    ],
)
def test_numbers_dates_and_harmless_text_are_left_as_they_are(value):
    assert safe_cell(value) is value or safe_cell(value) == value


def test_other_objects_are_turned_into_text_then_checked():
    text = lazy(str, str)  # like a lazy translation: an object that becomes text when asked
    assert safe_cell(text("=label")) == "'=label"
    assert safe_cell(text("Tracking no.")) == "Tracking no."


def test_the_streamed_csv_neutralises_every_text_cell_header_included():
    header = ["=header", "Fee"]
    rows = [[value, Decimal("-2.50"), "-2.50"] for value, _expected in HOSTILE]
    text = "".join(streaming.csv_pieces(header, rows)).removeprefix("\ufeff")
    read = list(csv.reader(io.StringIO(text, newline="")))
    assert read[0] == ["'=header", "Fee"]
    assert read[1:] == [[expected, "-2.50", "-2.50"] for _value, expected in HOSTILE]


def test_the_xlsx_writer_neutralises_every_text_cell_and_keeps_numbers_as_numbers():
    buffer = io.BytesIO()
    rows = [[value, Decimal("-2.50"), -3] for value, _expected in HOSTILE]
    streaming.write_xlsx(buffer, title="t", header=["@header"], rows=rows)
    sheet = load_workbook(io.BytesIO(buffer.getvalue())).active
    read = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert read[0] == ["'@header", None, None]
    assert read[1:] == [[expected, -2.5, -3] for _value, expected in HOSTILE]
    assert {cell.data_type for row in sheet.iter_rows(min_row=2) for cell in row[:1]} == {"s"}


# --- the guard: every CSV and XLSX goes through shop.streaming -------------------------------------

# Whatever writes a CSV or a spreadsheet: the csv module's writers, openpyxl's or any workbook class,
# and the writers' methods. Reading (csv.reader, load_workbook) is not writing.
WRITERS = re.compile(r"csv\.writer\(|csv\.DictWriter\(|\bWorkbook\(|\.writerows?\(|xlsxwriter|tablib")
THE_ONE_MODULE = ROOT / "shop" / "streaming.py"
NOT_THE_APP = {".venv", "var", "tests", "node_modules", ".git", "static", "media"}


def _app_sources() -> list[Path]:
    return [
        path
        for path in ROOT.rglob("*.py")
        if not NOT_THE_APP & set(path.relative_to(ROOT).parts[:1]) and path != THE_ONE_MODULE
    ]


def test_no_module_but_shop_streaming_writes_csv_or_xlsx():
    sources = _app_sources()
    assert ROOT / "settlement" / "statements" / "exports.py" in sources  # the scan sees the app
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in sources
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if WRITERS.search(line)
    ]
    assert found == [], "write exports through shop.streaming (csv_pieces, csv_response, write_xlsx)"


def test_shop_streaming_passes_every_cell_through_safe_cell():
    source = THE_ONE_MODULE.read_text(encoding="utf-8")
    assert source.count("writer.writerow(") == 1 and "writer.writerow(safe_row(" in source
    assert source.count("writer.writerows(") == 1 and "writer.writerows([safe_row(row) for row in batch])" in source
    assert "value = safe_cell(value)" in source
