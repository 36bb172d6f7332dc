"""shop.streaming: the reading, CSV and XLSX helpers every export uses."""

import zipfile
from datetime import date, datetime
from decimal import Decimal
from io import BytesIO
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from openpyxl import load_workbook

from shop import streaming
from shop.models import Courier
from tests.shop.factories import make_courier


def workbook_rows(data: bytes, read_only: bool = True) -> tuple[str, list[tuple]]:
    workbook = load_workbook(BytesIO(data), read_only=read_only)
    sheet = workbook.active
    return sheet.title, [tuple(row) for row in sheet.iter_rows(values_only=True)]


def xlsx(header, rows, title="Rows") -> bytes:
    buffer = BytesIO()
    streaming.write_xlsx(buffer, title=title, header=header, rows=rows)
    return buffer.getvalue()


def test_xlsx_cells_keep_their_types_and_blanks_stay_blank():
    when = datetime(2026, 11, 22, 10, 15, 30)
    data = xlsx(
        ["text", "int", "decimal", "float", "bool", "datetime", "date", "none", "empty"],
        [
            ("小王", 3, Decimal("129.00"), 0.5, True, when, date(2026, 11, 22), None, ""),
            ("a & b <c> \"d\" 'e'", -7, Decimal("0.10"), 1e20, False, datetime(1900, 1, 1), date(2000, 2, 29), 0, "x"),
        ],
    )
    for read_only in (True, False):
        title, rows = workbook_rows(data, read_only=read_only)
        assert title == "Rows"
        assert rows == [
            ("text", "int", "decimal", "float", "bool", "datetime", "date", "none", "empty"),
            ("小王", 3, 129, 0.5, True, when, datetime(2026, 11, 22), None, None),
            ("a & b <c> \"d\" 'e'", -7, 0.1, 1e20, False, datetime(1900, 1, 1), datetime(2000, 2, 29), 0, "x"),
        ]


def test_xlsx_leaves_numbers_a_spreadsheet_cannot_hold_blank():
    _title, rows = workbook_rows(xlsx(["a", "b", "c"], [(float("nan"), float("inf"), Decimal("NaN"))]))
    assert rows[1] == (None, None, None)


def test_xlsx_keeps_spaces_and_line_breaks_and_drops_characters_xml_cannot_hold():
    _title, rows = workbook_rows(xlsx(["a", "b"], [(" padded ", "two\nlines\ttab\x00\x07\x1f end")]))
    assert rows[1] == (" padded ", "two\nlines\ttab end")


def test_xlsx_has_columns_past_z_and_as_many_rows_as_given(monkeypatch):
    monkeypatch.setattr(streaming, "ROWS_PER_PIECE", 3)  # several pieces, one partly filled
    header = [f"c{i}" for i in range(30)]
    rows = [[row * 100 + i for i in range(30)] for row in range(7)]
    buffer = BytesIO()

    assert streaming.write_xlsx(buffer, title="Wide", header=header, rows=iter(rows)) == 7

    workbook = load_workbook(BytesIO(buffer.getvalue()))
    sheet = workbook.active
    assert (sheet.max_row, sheet.max_column) == (8, 30)
    assert sheet["AD1"].value == "c29" and sheet["AD8"].value == 629
    assert [tuple(row) for row in sheet.iter_rows(min_row=2, values_only=True)] == [tuple(row) for row in rows]


def test_an_empty_xlsx_has_the_header_and_a_valid_package():
    data = xlsx(["only"], [])
    with zipfile.ZipFile(BytesIO(data)) as package:
        assert package.testzip() is None
        assert package.namelist()[0] == "[Content_Types].xml"
    assert workbook_rows(data)[1] == [("only",)]


def test_the_sheet_name_is_cut_to_what_excel_accepts():
    title, _rows = workbook_rows(xlsx(["a"], [], title="a/b:c*d?[e]\\f and a name longer than 31"))
    assert title == "a_b_c_d__e__f and a name longer"


def test_xlsx_refuses_an_aware_datetime():
    with pytest.raises(TypeError, match="time zone"):
        xlsx(["at"], [(datetime(2026, 11, 22, tzinfo=ZoneInfo("Asia/Shanghai")),)])


def read_all_setting(name: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SHOW {name}")
        return cursor.fetchone()[0]


def couriers_by_code():
    for code in ("YTO", "ZTO", "STO"):
        make_courier(code)
    return Courier.objects.order_by("code").values_list("code", flat=True)


def settings_now() -> dict[str, str]:
    return {name: read_all_setting(name) for name in streaming.READ_ALL_SETTINGS} if _postgres() else {}


def test_read_all_yields_what_the_iterator_yields(db):
    queryset = couriers_by_code()
    assert list(streaming.read_all(queryset, chunk_size=2)) == list(queryset.iterator(chunk_size=2))
    assert list(streaming.read_all(queryset.none(), chunk_size=2)) == []


def test_read_all_outside_a_transaction_leaves_the_connections_settings_as_they_were(transactional_db):
    queryset = couriers_by_code()
    before = settings_now()

    assert list(streaming.read_all(queryset, chunk_size=2)) == ["STO", "YTO", "ZTO"]
    assert list(streaming.read_all(queryset.none(), chunk_size=2)) == []
    assert settings_now() == before


def _postgres() -> bool:
    return connection.vendor == "postgresql"


class SettingsProbe:
    """Stands for a queryset: its "rows" are the planner settings in force when each one is read."""

    db = "default"

    def iterator(self, chunk_size):
        for _row in range(2):
            yield {name: read_all_setting(name) for name in streaming.READ_ALL_SETTINGS}


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's planner settings")
def test_read_all_opens_the_cursor_planned_for_every_row_then_resets_the_settings(transactional_db):
    defaults = {name: read_all_setting(name) for name in streaming.READ_ALL_SETTINGS}
    assert defaults != streaming.READ_ALL_SETTINGS

    opening, later = streaming.read_all(SettingsProbe(), chunk_size=1)

    assert opening == streaming.READ_ALL_SETTINGS  # the first row: when the cursor is declared and planned
    assert later == defaults
