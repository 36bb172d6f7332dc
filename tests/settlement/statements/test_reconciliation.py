"""Reading the outlet's bill and matching it with a statement: table tests of the pure functions, then
the upload on the statement page (a bad file gets its message and nothing is stored).
"""

import io
import zipfile
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from openpyxl import Workbook

from settlement.models import Reconciliation, ReconciliationRow
from settlement.statements import reconciliation
from settlement.statements.reconciliation import BillError, BillLine, OurLine, match, read_bill
from tests.settlement.factories import issued_statement, snapshot

K = ReconciliationRow.Kind


def csv_bytes(text: str, encoding: str = "utf-8") -> bytes:
    return text.encode(encoding)


def xlsx_bytes(rows: list[list]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def lines_of(data: bytes) -> list[tuple]:
    return [(line.line, line.tracking_no, line.fee) for line in read_bill(data=data)]


# --- reading: what is accepted ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        "运单号,费用",
        "快递单号,金额",
        "物流单号,拦截费",
        "tracking_no,fee",
        "Tracking number,Amount",
        "TRACKING NO.,FEE (yuan)",
        "运单号,拦截费用（元）",
        "Tracking no.,Fee (yuan)",  # our own export's header reads back
    ],
)
def test_tracking_and_fee_columns_are_found_by_chinese_or_english_names(header):
    assert lines_of(csv_bytes(f"{header}\nYT001,2.50\n")) == [(2, "YT001", Decimal("2.50"))]


def test_columns_may_come_in_any_order_among_other_columns():
    data = csv_bytes("序号,金额,备注,揽收日期,运单号\n1,3,加急,2026-10-02,yt 001\n2,2.5,,2026-10-03,YT002\n")
    assert lines_of(data) == [(2, "YT001", Decimal("3.00")), (3, "YT002", Decimal("2.50"))]


@pytest.mark.parametrize(
    "fee, expected",
    [("2.5", "2.50"), ("¥2.50", "2.50"), ("￥ 3", "3.00"), ("2.50元", "2.50"), ("1,234.50", "1234.50"), ("0", "0.00")],
)
def test_fees_are_read_with_currency_signs_and_thousands_separators(fee, expected):
    assert lines_of(csv_bytes(f'运单号,费用\nYT001,"{fee}"\n'))[0][2] == Decimal(expected)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_csv_is_read_as_utf8_with_or_without_bom_or_as_gb18030(encoding):
    data = csv_bytes("快递单号,拦截费\nYT001,2.50\n", encoding)
    assert lines_of(data) == [(2, "YT001", Decimal("2.50"))]


@pytest.mark.parametrize("delimiter", ["\t", ";"])
def test_tab_and_semicolon_separated_bills_are_read(delimiter):
    data = csv_bytes(f"运单号{delimiter}费用\nYT001{delimiter}2.50\n")
    assert lines_of(data) == [(2, "YT001", Decimal("2.50"))]


def test_title_rows_blank_rows_and_the_total_row_are_skipped():
    data = csv_bytes("圆通青浦网点 10月账单,,\n,,\n序号,运单号,费用\n1,YT001,2.50\n,,\n2,YT002,3.00\n合计,,5.50\n")
    assert lines_of(data) == [(4, "YT001", Decimal("2.50")), (6, "YT002", Decimal("3.00"))]


def test_an_xlsx_bill_is_read_from_its_first_sheet_numbers_and_all():
    data = xlsx_bytes(
        [
            ["拦截费账单 2026-10"],
            ["运单号", "备注", "金额"],
            ["YT001", "", 2.5],
            [123456789012, None, 3],  # a numeric tracking number
            ["YT003", None, 1.1 * 3],  # a formula's 3.3000000000000003
            ["Total", None, 8.8],
        ]
    )
    assert lines_of(data) == [
        (3, "YT001", Decimal("2.50")),
        (4, "123456789012", Decimal("3.00")),
        (5, "YT003", Decimal("3.30")),
    ]


# --- reading: what is refused, and how it is said --------------------------------------------------


def _zip_of(name: str, content: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(name, content)
    return buffer.getvalue()


BAD_FILES = [
    ("empty", b"", "The file is empty."),
    ("blank", b" \r\n \n", "The file is empty."),
    ("header only", csv_bytes("运单号,费用\n"), "The bill has no lines below its header (line 1)."),
    (
        "no tracking column",
        csv_bytes("单据,费用\nYT001,2.50\n"),
        "Line 1 is not a bill header: it needs a tracking-number column (运单号, 快递单号, tracking_no or tracking "
        "number). Columns found: A (单据), B (费用).",
    ),
    (
        "no fee column",
        csv_bytes("tracking_no,price\nYT001,2.50\n"),
        "Line 1 is not a bill header: it needs a fee column (费用, 金额, 拦截费, fee or amount). "
        "Columns found: A (tracking_no), B (price).",
    ),
    (
        "neither column",
        csv_bytes("a,b\n1,2\n"),
        "Line 1 is not a bill header: it needs a tracking-number column (运单号, 快递单号, tracking_no or tracking "
        "number) and a fee column (费用, 金额, 拦截费, fee or amount). Columns found: A (a), B (b).",
    ),
    (
        "two tracking columns",
        csv_bytes("运单号,费用,快递单号\nYT001,2.50,YT001\n"),
        "Line 1: Several columns could be the tracking number: A (运单号), C (快递单号). Keep only one.",
    ),
    (
        "unreadable number",
        csv_bytes("运单号,费用\nYT001,2.50\nYT002,abc\n"),
        "Line 3, column B (费用): “abc” is not a number.",
    ),
    ("negative fee", csv_bytes("运单号,费用\nYT001,-2.50\n"), "Line 2, column B (费用): the fee -2.50 is negative."),
    (
        "three decimals",
        csv_bytes("运单号,费用\nYT001,2.505\n"),
        "Line 2, column B (费用): the fee 2.505 has more than two decimals.",
    ),
    (
        "empty tracking number",
        csv_bytes("fee,tracking number\n2.50,\n"),
        "Line 2, column B (tracking number): the tracking number is empty.",
    ),
    ("empty fee", csv_bytes("运单号,费用\nYT001,\n"), "Line 2, column B (费用): the fee is empty."),
    (
        "number in xlsx",
        xlsx_bytes([["运单号", "费用"], ["YT001", "两元"]]),
        "Line 2, column B (费用): “两元” is not a number.",
    ),
    ("png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 20, "The file is not a spreadsheet: upload the bill as CSV or XLSX."),
    ("pdf", b"%PDF-1.7\n...", "The file is not a spreadsheet: upload the bill as CSV or XLSX."),
    ("utf-16", "运单号,费用\n".encode("utf-16"), "The file is not a spreadsheet: upload the bill as CSV or XLSX."),
    ("xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 20, "The file is in the old .xls format"),
    (
        "zip that is no workbook",
        _zip_of("hello.txt", b"hi"),
        "The file is not a readable XLSX workbook: open it in a spreadsheet program and save it again.",
    ),
    ("damaged xlsx", b"PK\x03\x04" + b"\x00" * 50, "The file is not a readable XLSX workbook"),
    (
        "neither utf-8 nor gb18030",
        b"tracking_no,fee\nYT\xff01,2.50\n",
        "The file's text is neither UTF-8 nor GB18030: save the bill as CSV (UTF-8) or XLSX.",
    ),
    (
        "larger than 2 MB",
        b"tracking_no,fee\n" + b"YT000000000001,2.50\n" * 110_000,
        "The file is larger than 2 MB: split the bill into several files.",
    ),
    (
        "more than 20 000 lines",
        b"t,tracking_no,fee\n" + b"".join(b",Y%d,1\n" % n for n in range(20_001)),
        "The bill has more than 20,000 lines: split it into several files.",
    ),
]


@pytest.mark.parametrize("data, message", [pytest.param(d, m, id=name) for name, d, m in BAD_FILES])
def test_a_bad_file_is_refused_with_a_message_naming_what_is_wrong(data, message):
    with pytest.raises(BillError) as refused:
        read_bill(data=data)
    assert refused.value.messages[0].startswith(message)


def test_every_bad_line_is_named_up_to_ten_then_counted():
    data = csv_bytes("运单号,费用\n" + "".join(f"YT{n},x{n}\n" for n in range(13)))
    with pytest.raises(BillError) as refused:
        read_bill(data=data)
    assert refused.value.messages[0] == "Line 2, column B (费用): “x0” is not a number."
    assert refused.value.messages[9] == "Line 11, column B (费用): “x9” is not a number."
    assert refused.value.messages[10:] == ["… and 3 more lines with errors."]


def test_exactly_20000_lines_are_accepted():
    data = b"tracking_no,fee\n" + b"".join(b"Y%d,1\n" % n for n in range(20_000))
    assert len(read_bill(data=data)) == 20_000


@pytest.mark.parametrize("index, name", [(0, "A"), (2, "C"), (25, "Z"), (26, "AA"), (27, "AB"), (701, "ZZ")])
def test_columns_are_named_as_spreadsheets_name_them(index, name):
    assert reconciliation.column_name(index) == name


# --- matching --------------------------------------------------------------------------------------


def bill(*rows):
    return [BillLine(line=n, tracking_no=t, fee=Decimal(f)) for n, (t, f) in enumerate(rows, start=2)]


def ours(*rows):
    return [OurLine(tracking_no=t, amount=Decimal(a)) for t, a in rows]


def test_each_kind_of_difference_is_found_with_its_totals():
    result = match(
        bill_lines=bill(("YT1", "2.50"), ("YT2", "3.00"), ("YT3", "2.50"), ("YT9", "2.50"), ("YT3", "2.50")),
        our_lines=ours(("YT1", "2.50"), ("YT2", "2.50"), ("YT3", "2.50"), ("YT4", "2.50")),
    )
    assert [(r.kind, r.tracking_no, r.billed_fee, r.our_fee, r.bill_line) for r in result.rows] == [
        (K.MATCHED, "YT1", Decimal("2.50"), Decimal("2.50"), 2),
        (K.FEE_DIFFERS, "YT2", Decimal("3.00"), Decimal("2.50"), 3),
        (K.MATCHED, "YT3", Decimal("2.50"), Decimal("2.50"), 4),
        (K.NOT_OURS, "YT9", Decimal("2.50"), None, 5),
        (K.BILLED_TWICE, "YT3", Decimal("2.50"), None, 6),
        (K.NOT_BILLED, "YT4", None, Decimal("2.50"), None),
    ]
    assert result.summary() == {
        "bill_lines": 5,
        "bill_total": "13.00",
        "our_lines": 4,
        "our_total": "10.00",
        "difference": "3.00",
        "kinds": {
            "matched": {"count": 2, "billed": "5.00", "ours": "5.00", "difference": "0.00"},
            "fee_differs": {"count": 1, "billed": "3.00", "ours": "2.50", "difference": "0.50"},
            "not_ours": {"count": 1, "billed": "2.50", "ours": "0.00", "difference": "2.50"},
            "not_billed": {"count": 1, "billed": "0.00", "ours": "2.50", "difference": "-2.50"},
            "billed_twice": {"count": 1, "billed": "2.50", "ours": "0.00", "difference": "2.50"},
        },
    }


@pytest.mark.parametrize(
    "bill_rows, our_rows, kinds",
    [
        ([], [("YT1", "2.50")], [K.NOT_BILLED]),
        ([("YT1", "2.50")], [], [K.NOT_OURS]),
        ([("yt 1", "2.50")], [("YT1", "2.50")], [K.MATCHED]),  # tracking numbers compared without case or spaces
        (
            [("YT1", "2.50"), ("YT1", "2.50"), ("YT1", "3.00")],
            [("YT1", "2.50")],
            [K.MATCHED, K.BILLED_TWICE, K.BILLED_TWICE],
        ),
        ([("YT5", "1.00"), ("YT5", "1.00")], [], [K.NOT_OURS, K.BILLED_TWICE]),
        ([("YT1", "2.50"), ("YT1", "2.40")], [("YT1", "2.50"), ("YT1", "2.50")], [K.MATCHED, K.FEE_DIFFERS]),
    ],
)
def test_matching_pairs_each_mention_with_one_line_of_ours(bill_rows, our_rows, kinds):
    result = match(bill_lines=bill(*bill_rows), our_lines=ours(*our_rows))
    assert [row.kind for row in result.rows] == kinds


# --- the upload on the statement page --------------------------------------------------------------


@pytest.fixture
def statement(shop, yto_outlet):
    return issued_statement(shop, yto_outlet, fees=("2.50", "2.50", "2.50", "2.50"))


@pytest.fixture
def merchant_client(client, merchant):
    client.force_login(merchant)
    return client


def upload(client, statement, name: str, data: bytes):
    url = reverse("settlement:statement-reconcile", kwargs={"pk": statement.pk})
    return client.post(url, {"bill": SimpleUploadedFile(name, data)}, follow=True)


def test_a_bill_with_every_kind_of_difference_is_stored_and_shown(merchant_client, statement, merchant):
    t1, t2, t3, t4 = statement.lines.order_by("succeeded_at").values_list("tracking_no", flat=True)
    data = csv_bytes(f"运单号,费用\n{t1},2.50\n{t2},3.00\n{t3},2.50\nYT-NOT-OURS,2.50\n{t3},2.50\n合计,13.00\n")

    response = upload(merchant_client, statement, "bill.csv", data)

    record = Reconciliation.objects.get()
    assert response.redirect_chain == [(reverse("settlement:reconciliation-detail", kwargs={"pk": record.pk}), 302)]
    assert (record.statement, record.uploaded_by, record.file_name) == (statement, merchant, "bill.csv")
    assert sorted(record.rows.values_list("kind", "tracking_no", "billed_fee", "our_fee", "bill_line")) == sorted(
        [
            (K.MATCHED, t1, Decimal("2.50"), Decimal("2.50"), 2),
            (K.FEE_DIFFERS, t2, Decimal("3.00"), Decimal("2.50"), 3),
            (K.MATCHED, t3, Decimal("2.50"), Decimal("2.50"), 4),
            (K.NOT_OURS, "YT-NOT-OURS", Decimal("2.50"), None, 5),
            (K.BILLED_TWICE, t3, Decimal("2.50"), None, 6),
            (K.NOT_BILLED, t4, None, Decimal("2.50"), None),
        ]
    )
    assert {kind: figures["count"] for kind, figures in record.summary["kinds"].items()} == {
        "matched": 2,
        "fee_differs": 1,
        "not_ours": 1,
        "not_billed": 1,
        "billed_twice": 1,
    }
    page = response.content.decode()
    assert 'data-kind="not_ours"' in page and "YT-NOT-OURS" in page
    assert statement.lines.count() == 4  # the bill never changes the statement


def test_an_xlsx_bill_is_reconciled_too(merchant_client, statement):
    tracking = list(statement.lines.values_list("tracking_no", flat=True))
    data = xlsx_bytes([["Tracking number", "Amount"], *[[t, 2.5] for t in tracking]])
    upload(merchant_client, statement, "bill.xlsx", data)
    assert Reconciliation.objects.get().summary["kinds"]["matched"]["count"] == 4


# A bill above 2 MB never reaches the form: tests/shop/test_request_limits.py.
@pytest.mark.parametrize(
    "data, message", [pytest.param(d, m, id=name) for name, d, m in BAD_FILES if name != "larger than 2 MB"]
)
def test_a_bad_file_gets_its_message_on_the_statement_page_and_nothing_is_stored(
    merchant_client, statement, data, message
):
    before = snapshot()
    response = upload(merchant_client, statement, "outlet-bill.csv", data)
    assert response.redirect_chain == [
        (reverse("settlement:statement-detail", kwargs={"pk": statement.pk}) + "#reconcile", 302)
    ]
    shown = [str(m) for m in response.context["messages"]]
    assert shown[0].startswith("outlet-bill.csv: ")
    assert any(message in text for text in shown)
    assert Reconciliation.objects.count() == 0
    assert ReconciliationRow.objects.count() == 0
    assert snapshot() == before


def test_no_file_at_all_is_refused_and_nothing_is_stored(merchant_client, statement):
    response = merchant_client.post(reverse("settlement:statement-reconcile", kwargs={"pk": statement.pk}), follow=True)
    assert [str(m) for m in response.context["messages"]] == ["Choose the outlet's bill (CSV or XLSX)."]
    assert Reconciliation.objects.count() == 0


# --- hostile workbooks: declared sizes are not trusted, work stays bounded ---------------------------

_SHEET_HEAD = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
)


def hand_written_xlsx(sheet_data: str, *, dimension: str = "A1:XFD1048576") -> bytes:
    """The smallest workbook, written by hand: one sheet whose XML is `sheet_data` (inline strings)."""
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    rels = "http://schemas.openxmlformats.org/package/2006/relationships"
    doc = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    parts = {
        "[Content_Types].xml": (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/worksheets/sheet1.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
            "</Types>"
        ),
        "_rels/.rels": (
            f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{rels}">'
            f'<Relationship Id="rId1" Type="{doc}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
        ),
        "xl/_rels/workbook.xml.rels": (
            f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{rels}">'
            f'<Relationship Id="rId1" Type="{doc}/worksheet" Target="worksheets/sheet1.xml"/></Relationships>'
        ),
        "xl/workbook.xml": (
            f'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{main}" xmlns:r="{doc}">'
            '<sheets><sheet name="Bill" sheetId="1" r:id="rId1"/></sheets></workbook>'
        ),
        "xl/worksheets/sheet1.xml": (
            f'{_SHEET_HEAD}<dimension ref="{dimension}"/><sheetData>{sheet_data}</sheetData></worksheet>'
        ),
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in parts.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def text_cell(reference: str, text: str) -> str:
    return f'<c r="{reference}" t="inlineStr"><is><t>{text}</t></is></c>'


HEADER_ROW = f'<row r="1">{text_cell("A1", "运单号")}{text_cell("B1", "费用")}</row>'
# The reviewed file: A1:XFD1048576 declared, a header, one line at the sheet's very last row.
HOSTILE_XLSX = hand_written_xlsx(
    HEADER_ROW + f'<row r="1048576">{text_cell("A1048576", "YT001")}<c r="B1048576"><v>2.5</v></c></row>'
)


@pytest.fixture
def rows_read(monkeypatch):
    """How many rows the reader hands to parse_rows; more than 100 fails at once (bounded work, no timing)."""
    read = []
    real = reconciliation.bills.parse_rows

    def counting(rows):
        def counted():
            for row in rows:
                read.append(row[0])
                assert len(read) <= 100, "the reader walks rows that are not in the file"
                yield row

        return real(counted())

    monkeypatch.setattr(reconciliation.bills, "parse_rows", counting)
    return read


def test_a_declared_million_row_sheet_is_refused_after_reading_its_two_rows(rows_read):
    assert len(HOSTILE_XLSX) < 2000
    with pytest.raises(BillError) as refused:
        read_bill(data=HOSTILE_XLSX)
    assert refused.value.messages == ["The bill has more than 20,000 lines: split it into several files."]
    assert rows_read == [1, 1_048_576]


def test_rows_missing_from_the_sheet_are_not_made_up_and_lines_keep_their_numbers(rows_read):
    data = hand_written_xlsx(
        HEADER_ROW
        + f'<row r="3">{text_cell("A3", "YT001")}<c r="B3"><v>2.5</v></c></row>'
        + f'<row r="20001">{text_cell("A20001", "YT002")}<c r="B20001"><v>3</v></c></row>'
    )
    assert lines_of(data) == [(3, "YT001", Decimal("2.50")), (20_001, "YT002", Decimal("3.00"))]
    assert rows_read == [1, 3, 20_001]


def test_a_value_past_the_column_limit_is_refused_and_blank_cells_there_are_ignored(rows_read):
    blank_far_right = hand_written_xlsx(
        HEADER_ROW + f'<row r="2">{text_cell("A2", "YT001")}<c r="B2"><v>2.5</v></c><c r="XFD2" s="1"/></row>'
    )
    assert lines_of(blank_far_right) == [(2, "YT001", Decimal("2.50"))]

    value_far_right = hand_written_xlsx(
        HEADER_ROW + f'<row r="2">{text_cell("A2", "YT001")}<c r="B2"><v>2.5</v></c>{text_cell("XFD2", "x")}</row>'
    )
    with pytest.raises(BillError) as refused:
        read_bill(data=value_far_right)
    assert refused.value.messages == [
        "Line 2 has a value in column XFD: a bill has at most 50 columns (up to AX). Remove the columns past it."
    ]


def test_a_csv_line_past_the_column_limit_is_refused_too():
    data = csv_bytes("运单号,费用" + "," * 49 + "\nYT001,2.50" + "," * 48 + ",x\n")
    with pytest.raises(BillError) as refused:
        read_bill(data=data)
    assert refused.value.messages[0].startswith("Line 2 has a value in column AY: a bill has at most 50 columns")


def test_more_row_elements_than_the_limit_are_refused_even_when_blank(monkeypatch):
    monkeypatch.setattr(reconciliation.bills, "MAX_SHEET_ROWS", 5)
    data = hand_written_xlsx(HEADER_ROW + "".join(f'<row r="{n}"/>' for n in range(2, 10)))
    with pytest.raises(BillError) as refused:
        read_bill(data=data)
    assert refused.value.messages == ["The bill has more than 20,000 lines: split it into several files."]


def test_a_sheet_that_unpacks_beyond_the_part_limit_is_refused_before_it_is_parsed(monkeypatch):
    monkeypatch.setattr(reconciliation.bills, "MAX_PART_BYTES", 100_000)
    parsed = []
    monkeypatch.setattr(reconciliation.bills, "_sheet_rows", lambda workbook: parsed.append(1) or iter(()))
    bomb = hand_written_xlsx(HEADER_ROW + "<row/>" * 20_000)  # 120 KB of XML in a zip of about 1 KB
    assert len(bomb) < 5_000
    with pytest.raises(BillError) as refused:
        read_bill(data=bomb)
    assert refused.value.messages == ["The workbook is too large once unpacked: split the bill into several files."]
    assert parsed == []


def test_the_hostile_workbook_gets_its_message_on_the_statement_page_and_nothing_is_stored(merchant_client, statement):
    before = snapshot()
    response = upload(merchant_client, statement, "bill.xlsx", HOSTILE_XLSX)
    assert [str(m) for m in response.context["messages"]] == [
        "bill.xlsx: The bill has more than 20,000 lines: split it into several files."
    ]
    assert Reconciliation.objects.count() == 0
    assert snapshot() == before


# --- line numbers as the outlet's file shows them ----------------------------------------------------


def test_csv_bill_lines_are_numbered_as_a_spreadsheet_shows_the_file_the_header_being_line_1():
    data = csv_bytes("运单号,费用\nYT001,2.50\nYT002,3.00\n")
    assert [line for line, _no, _fee in lines_of(data)] == [2, 3]


def test_a_csv_cell_over_two_lines_does_not_shift_the_numbers_of_the_lines_after_it():
    data = csv_bytes('运单号,费用,备注\nYT001,2.50,"第一行\n第二行"\nYT002,3.00,\n')
    assert [(line, no) for line, no, _fee in lines_of(data)] == [(2, "YT001"), (3, "YT002")]


def test_xlsx_bill_lines_carry_the_sheets_row_numbers_with_a_title_row_above_the_header():
    data = xlsx_bytes([["YTO-SH-001 2026年11月 拦截费账单"], ["运单号", "费用"], ["YT001", 2.5], ["YT002", 3]])
    assert [(line, no) for line, no, _fee in lines_of(data)] == [(3, "YT001"), (4, "YT002")]


def test_xlsx_bill_lines_are_numbered_from_2_below_a_header_in_row_1():
    data = xlsx_bytes([["运单号", "费用"], ["YT001", 2.5]])
    assert lines_of(data) == [(2, "YT001", Decimal("2.50"))]
