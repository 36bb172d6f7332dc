"""Exports written as a stream, shared by every export: memory stays flat whatever the row count.

- Reading: `read_all(queryset)`, the rows of a server-side cursor planned for reading every row.
- CSV: pieces of whole lines for a StreamingHttpResponse (`csv_response`, `csv_pieces`).
- XLSX: a one-sheet workbook written row by row straight into its zip (`write_xlsx`).

The only module that writes CSV or XLSX: every header and body cell goes through
`shop.exports.safe_cell`, so no export can hand a spreadsheet program a formula.
"""

import csv
import io
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from itertools import islice
from math import isfinite
from typing import IO
from xml.sax.saxutils import quoteattr

from django.db import connections
from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from openpyxl.utils.datetime import to_excel

from .exports import safe_cell, safe_row

# Rows per piece handed to the server (CSV) or to the zip (XLSX): one write of some tens of KB instead
# of one per line, which costs more than formatting the line itself. Memory: one piece at a time.
ROWS_PER_PIECE = 500


# --- reading --------------------------------------------------------------------------------------
# PostgreSQL settings while an export's cursor is opened, measured on one shop of 1 000 000 after-sales:
# - cursor_tuple_fraction: a cursor is planned for its first 10 % of rows, so to return those without a
#   sort a filtered export walks the shop's whole index in sort order: 1 000 000 entries for the 7 000
#   after-sales applied on one day (2 s instead of 1 s).
# - jit: a query this costly is JIT-compiled, which takes longer (0.5–0.9 s) than it saves.
# - work_mem: sorting 100 000 exported rows takes ~25 MB; with the default 4 MB it spills to disk.
READ_ALL_SETTINGS = {"cursor_tuple_fraction": "1", "jit": "off", "work_mem": "32MB"}
# COPY of a filtered export (100 000 of the shop's 1 000 000 after-sales, each joined to its order,
# line, buyer and parcel): the planner hashes the whole order, line, parcel and buyer tables (seq
# scans of 0.3–1.4 M rows each, 6.1–7.7 s on the bench machine under load) where index lookups per
# row take 3.2 s. Nested loops only, for these exports' statements.
COPY_SETTINGS = READ_ALL_SETTINGS | {"enable_hashjoin": "off", "enable_mergejoin": "off"}
_NONE = object()


@contextmanager
def _planned_for_every_row(connection, settings: dict[str, str] = READ_ALL_SETTINGS):
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        if connection.in_atomic_block:  # undone with the transaction, whatever happens in between
            for name, value in settings.items():
                cursor.execute("SELECT set_config(%s, %s, true)", [name, value])
            yield
            return
        for name, value in settings.items():
            cursor.execute("SELECT set_config(%s, %s, false)", [name, value])
        try:
            yield
        finally:  # the connection outlives the request (CONN_MAX_AGE): leave it as it was
            for name in settings:
                cursor.execute(f"RESET {name}")


def read_all(queryset: QuerySet, *, chunk_size: int) -> Iterator:
    """The rows of `queryset.iterator(chunk_size)`, for a reader that takes them all: an export.

    The cursor is opened (planned, and outside a transaction also run to its end) under READ_ALL_SETTINGS;
    then the connection's settings are back as they were, before the first row is handed out.
    """
    rows = queryset.iterator(chunk_size=chunk_size)
    with _planned_for_every_row(connections[queryset.db]):
        first = next(rows, _NONE)
    if first is not _NONE:
        yield first
        yield from rows


# --- CSV -------------------------------------------------------------------------------------------
def csv_pieces(header: Iterable, rows: Iterable[Iterable]) -> Iterator[str]:
    """The CSV as pieces of whole lines: first a BOM and the header (so that the download starts before the
    query has run, and spreadsheet programs read UTF-8 Chinese names), then ROWS_PER_PIECE rows at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(safe_row(str(label) for label in header))
    yield "\ufeff" + buffer.getvalue()
    rows = iter(rows)
    while batch := list(islice(rows, ROWS_PER_PIECE)):
        buffer.seek(0)
        buffer.truncate()
        writer.writerows([safe_row(row) for row in batch])
        yield buffer.getvalue()


def copy_csv_pieces(header: Iterable, select_sql: str, params: Sequence = (), *, using: str = "default") -> Iterator:
    """The CSV of `csv_pieces`, its rows written by PostgreSQL: `COPY (select_sql) TO STDOUT`, streamed.

    `select_sql` returns each row's cells as text, already neutralised (`shop.exports.SQL_SAFE_CELL`),
    "" as NULL. The header is written here as `csv_pieces` writes it (BOM, `safe_row`); PostgreSQL's
    CSV quotes as Python's csv module does (a delimiter, quote, CR or LF in the value) and ends a row
    with LF, turned into the CRLF of Python's writer here: the server sends one message per row, so
    the row's own last byte is its end (a line break inside a quoted cell is left as it is). Pieces of
    ROWS_PER_PIECE rows, as there.
    """
    buffer = io.StringIO()
    csv.writer(buffer).writerow(safe_row(str(label) for label in header))
    yield "\ufeff" + buffer.getvalue()
    connection = connections[using]
    with _planned_for_every_row(connection, COPY_SETTINGS), connection.cursor() as cursor:
        with cursor.cursor.copy(f"COPY ({select_sql}) TO STDOUT WITH (FORMAT csv)", params) as copy:
            piece = []
            for row in copy:
                piece.append(bytes(row[:-1]))
                if len(piece) == ROWS_PER_PIECE:
                    yield b"\r\n".join(piece) + b"\r\n"
                    piece = []
            if piece:
                yield b"\r\n".join(piece) + b"\r\n"


def csv_response(*, filename: str, header: Iterable, rows: Iterable[Iterable]) -> StreamingHttpResponse:
    response = StreamingHttpResponse(csv_pieces(header, rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# --- XLSX ------------------------------------------------------------------------------------------
# The smallest SpreadsheetML package (ECMA-376): a workbook, one sheet, one date style. The tests read it
# back with openpyxl; LibreOffice opens it too.
_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
_DOC_RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_XML = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_PACKAGE = {
    "[Content_Types].xml": (
        f"{_XML}"
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        '<Override PartName="/xl/styles.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
        "</Types>"
    ),
    "_rels/.rels": (
        f'{_XML}<Relationships xmlns="{_RELS}">'
        f'<Relationship Id="rId1" Type="{_DOC_RELS}/officeDocument" Target="xl/workbook.xml"/>'
        "</Relationships>"
    ),
    "xl/_rels/workbook.xml.rels": (
        f'{_XML}<Relationships xmlns="{_RELS}">'
        f'<Relationship Id="rId1" Type="{_DOC_RELS}/worksheet" Target="worksheets/sheet1.xml"/>'
        f'<Relationship Id="rId2" Type="{_DOC_RELS}/styles" Target="styles.xml"/>'
        "</Relationships>"
    ),
    # Style 1: dates and times, shown as openpyxl shows them ("yyyy-mm-dd h:mm:ss").
    "xl/styles.xml": (
        f'{_XML}<styleSheet xmlns="{_MAIN}">'
        '<numFmts count="1"><numFmt numFmtId="164" formatCode="yyyy-mm-dd h:mm:ss"/></numFmts>'
        '<fonts count="1"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts>'
        '<fills count="2"><fill><patternFill patternType="none"/></fill>'
        '<fill><patternFill patternType="gray125"/></fill></fills>'
        '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
        '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
        '<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
        '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs>'
        '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
        "</styleSheet>"
    ),
}
_WORKBOOK = (
    f'{_XML}<workbook xmlns="{_MAIN}" xmlns:r="{_DOC_RELS}">'
    '<sheets><sheet name={title} sheetId="1" r:id="rId1"/></sheets></workbook>'
)
# Text as XML: the three markup characters escaped, a carriage return as a reference (a literal one is
# read back as a line feed), the control characters XML cannot hold dropped.
_XML_TEXT = str.maketrans(
    {
        "&": "&amp;",
        "<": "&lt;",
        ">": "&gt;",
        "\r": "&#13;",
        **{c: None for c in range(32) if chr(c) not in "\t\n\r"},
    }
)
_SHEET_NAME = str.maketrans({c: "_" for c in "[]:*?/\\"})


def _column(index: int) -> str:
    """0 → "A", 25 → "Z", 26 → "AA"."""
    letters = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters


def _row_xml(number: int, values: Sequence, columns: list[str]) -> str:
    while len(columns) < len(values):
        columns.append(_column(len(columns)))
    n = str(number)
    cells = []
    for column, value in zip(columns, values, strict=False):
        value = safe_cell(value)
        kind = type(value)
        if kind is str:
            if value:
                text = value.translate(_XML_TEXT)
                cells.append(f'<c r="{column}{n}" t="inlineStr"><is><t xml:space="preserve">{text}</t></is></c>')
            else:
                cells.append(f'<c r="{column}{n}"/>')
        elif kind is datetime or kind is date:
            if getattr(value, "tzinfo", None) is not None:
                raise TypeError("XLSX holds no time zone: pass naive datetimes (wall-clock time).")
            cells.append(f'<c r="{column}{n}" s="1"><v>{to_excel(value):.16g}</v></c>')
        elif kind is bool:
            cells.append(f'<c r="{column}{n}" t="b"><v>{value:d}</v></c>')
        elif kind is int or kind is float or kind is Decimal:  # as a double, like openpyxl: 129.00 → 129
            number = float(value)
            if isfinite(number):
                cells.append(f'<c r="{column}{n}"><v>{number:.16g}</v></c>')
            else:  # no NaN or infinity in a spreadsheet
                cells.append(f'<c r="{column}{n}"/>')
        elif value is None:
            cells.append(f'<c r="{column}{n}"/>')
        else:
            text = str(value).translate(_XML_TEXT)
            cells.append(f'<c r="{column}{n}" t="inlineStr"><is><t xml:space="preserve">{text}</t></is></c>')
    return f'<row r="{n}">{"".join(cells)}</row>'


def write_xlsx(file: IO[bytes], *, title: str, header: Iterable, rows: Iterable[Sequence]) -> int:
    """Write a workbook of one sheet, the header then the rows, to a binary file; return the number of rows.

    Cells, each through `safe_cell`: str as text, int / float / Decimal as numbers, bool, naive datetime
    and date with a date style, None and "" blank. The sheet is written row by row into the zip, so memory
    stays flat whatever the count, at about a tenth of the CPU time of openpyxl's write-only mode (which
    builds an object per cell).
    """
    columns: list[str] = []
    written = 0
    # Fastest deflate: a quarter less CPU than the default level, for a file a fifth bigger.
    with zipfile.ZipFile(file, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as package:
        for name, content in _PACKAGE.items():
            package.writestr(name, content)
        sheet_name = str(title).translate(_SHEET_NAME)[:31] or "Sheet1"
        package.writestr("xl/workbook.xml", _WORKBOOK.format(title=quoteattr(sheet_name)))
        with package.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            sheet.write(f'{_XML}<worksheet xmlns="{_MAIN}"><sheetData>'.encode())
            sheet.write(_row_xml(1, [str(label) for label in header], columns).encode())
            rows = iter(rows)
            while batch := list(islice(rows, ROWS_PER_PIECE)):
                start = written + 2
                sheet.write("".join([_row_xml(start + i, row, columns) for i, row in enumerate(batch)]).encode())
                written += len(batch)
            sheet.write(b"</sheetData></worksheet>")
    return written
