"""Reading the outlet's bill (CSV or XLSX) into bill lines. Pure functions, no database.

`read_bill` turns the uploaded bytes into bill lines or raises `BillError` with messages that name
the line and the column. A bill is any table whose header row (among its first rows) names a
tracking-number column and a fee column, in Chinese or English, in any order; other columns are
ignored, and so are blank rows and a final total row (合计 / Total).

Limits, each refused with a message naming it: 2 MB uploaded, MAX_LINES lines below the header (by
their row numbers), MAX_COLUMNS columns, and for an XLSX the unpacked size of its parts and at most
MAX_SHEET_ROWS row elements read. An XLSX is read as its sheet's XML has it, never by what it declares.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from django.utils.formats import number_format
from django.utils.translation import gettext as _

MAX_BYTES = 2 * 1024 * 1024  # the upload itself
MAX_LINES = 20_000  # bill lines below the header
MAX_COLUMNS = 50  # columns A to AX; a bill has a dozen at most
# An XLSX is a zip: refuse one that unpacks into something huge (a 2 MB zip of repeated XML can hold
# gigabytes). The sheet of a 20 000-line bill of ten columns unpacks into about 12 MB.
MAX_UNZIPPED_BYTES = 64 * 1024 * 1024  # all the package's parts together
MAX_PART_BYTES = 32 * 1024 * 1024  # any one part, the sheet's XML among them
MAX_ERRORS = 10  # line errors listed before giving up
HEADER_SEARCH_ROWS = 10  # a bill may start with a title row or two above its header
TRACKING_MAX_LENGTH = 64
# Row elements read from a sheet at most, blank ones included: the lines, the rows above the header, slack.
MAX_SHEET_ROWS = MAX_LINES + HEADER_SEARCH_ROWS + 1_000

XLSX_MAGIC = b"PK\x03\x04"
# Files people upload by mistake, recognised by their first bytes.
OTHER_FORMATS = (
    (b"\xd0\xcf\x11\xe0", "xls"),  # the old binary Excel format
    (b"%PDF", "pdf"),
    (b"\x89PNG", "image"),
    (b"\xff\xd8\xff", "image"),
    (b"GIF8", "image"),
)

# Header names, compared after `_header_key` (lower case, no spaces or punctuation, no "(元)" suffix).
TRACKING_HEADERS = frozenset(
    {
        "运单号",
        "运单编号",
        "快递单号",
        "快递运单号",
        "物流单号",
        "面单号",
        "单号",
        "trackingno",
        "trackingnumber",
        "tracking",
        "waybill",
        "waybillno",
        "waybillnumber",
    }
)
FEE_HEADERS = frozenset(
    {
        "费用",
        "金额",
        "拦截费",
        "拦截费用",
        "拦截金额",
        "结算金额",
        "应付金额",
        "fee",
        "fees",
        "amount",
        "interceptionfee",
        "charge",
    }
)
TOTAL_ROW_LABELS = frozenset({"合计", "总计", "小计", "total", "sum"})


class BillError(Exception):
    """The bill cannot be used; `messages` say why, naming the line and column where there is one."""

    def __init__(self, messages: list[str]):
        super().__init__("; ".join(messages))
        self.messages = messages


@dataclass(frozen=True)
class BillLine:
    line: int  # the row number as a spreadsheet shows the file (CSV record or XLSX row), 1 = the first
    tracking_no: str
    fee: Decimal


# --- reading ---------------------------------------------------------------------------------------


def read_bill(*, data: bytes) -> list[BillLine]:
    """The bill's lines, or BillError. CSV in UTF-8 (with or without BOM) or GB18030; XLSX by its bytes."""
    if not data.strip():
        raise BillError([_("The file is empty.")])
    if len(data) > MAX_BYTES:
        raise BillError([_("The file is larger than 2 MB: split the bill into several files.")])
    if data.startswith(XLSX_MAGIC):
        rows = _xlsx_rows(data)
    else:
        rows = _csv_rows(_decode(data))
    return parse_rows(rows)


def _not_a_spreadsheet() -> BillError:
    return BillError([_("The file is not a spreadsheet: upload the bill as CSV or XLSX.")])


def _decode(data: bytes) -> str:
    for magic, kind in OTHER_FORMATS:
        if data.startswith(magic):
            if kind == "xls":
                raise BillError([_("The file is in the old .xls format: save it as XLSX or CSV and upload it again.")])
            raise _not_a_spreadsheet()
    if b"\x00" in data[:8192]:  # UTF-16 text or some other binary file
        raise _not_a_spreadsheet()
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise BillError([_("The file's text is neither UTF-8 nor GB18030: save the bill as CSV (UTF-8) or XLSX.")])


def _delimiter(text: str) -> str:
    """Comma, tab or semicolon: whichever the first non-blank line uses most."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    return max([",", "\t", ";"], key=first.count) if first else ","


def _csv_rows(text: str) -> Iterator[tuple[int, list]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    try:
        # The row's number as a spreadsheet program shows the file (header = 1, first line below it = 2),
        # which the outlet quotes: one per record, so a quoted cell over two lines does not shift the
        # rows after it (reader.line_num counts physical lines, and ends on the record's last one).
        yield from enumerate(reader, start=1)
    except csv.Error as error:
        raise BillError(
            [_("Line %(line)s: the CSV cannot be read (%(error)s).") % {"line": reader.line_num, "error": error}]
        ) from None


def _xlsx_rows(data: bytes) -> Iterator[tuple[int, list]]:
    """The first sheet's rows as (row number, cells), read as the sheet's XML has them.

    Nothing the file declares is trusted: not its `<dimension>` (a 1.6 KB file may declare
    A1:XFD1048576), not its row numbers (a row numbered 1 048 576 comes straight after the header
    and parse_rows refuses it by its number), not its width (a value past MAX_COLUMNS is refused,
    blank formatted cells there are dropped). The package is refused before any parsing when one of
    its parts, or all of them, would unpack beyond MAX_PART_BYTES / MAX_UNZIPPED_BYTES; the zip
    module stops reading a part at its declared size, so a part cannot unpack into more.
    """
    from openpyxl import load_workbook

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            sizes = [info.file_size for info in archive.infolist()]
        if sum(sizes) > MAX_UNZIPPED_BYTES or max(sizes, default=0) > MAX_PART_BYTES:
            raise BillError([_("The workbook is too large once unpacked: split the bill into several files.")])
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except BillError:
        raise
    except Exception:  # a zip that is no workbook, or a damaged one: openpyxl raises many kinds
        raise BillError(
            [_("The file is not a readable XLSX workbook: open it in a spreadsheet program and save it again.")]
        ) from None
    try:
        rows = _sheet_rows(workbook)
        read = 0
        while True:
            try:
                number, cells = next(rows)
            except StopIteration:
                return
            except BillError:
                raise
            except Exception:  # a damaged sheet inside a sound zip
                raise BillError(
                    [_("The workbook's first sheet cannot be read: save the bill again as XLSX or CSV.")]
                ) from None
            read += 1
            if read > MAX_SHEET_ROWS:  # rows of nothing but formatting count too: the work stays bounded
                raise _too_many_lines()
            yield number, cells
    finally:
        workbook.close()


def _sheet_rows(workbook) -> Iterator[tuple[int, list]]:
    """The first sheet's row elements as (row number, values of columns A to MAX_COLUMNS).

    openpyxl's read-only `iter_rows` fills every gap in the row numbers with empty rows, each as wide as
    the widest row (or the declared dimension): a million rows of 16 384 cells for the file above, even
    after `reset_dimensions()`. So this runs the parser that openpyxl's read-only sheet runs (shared
    strings, date styles and all, with data_only) and takes the row elements as they come, without the
    filling. openpyxl is pinned in uv.lock; the bill tests read real workbooks through here.
    """
    from openpyxl.worksheet._reader import WorkSheetParser

    sheet = workbook.worksheets[0]
    with sheet._get_source() as source:
        parser = WorkSheetParser(
            source,
            sheet._shared_strings,
            data_only=True,
            epoch=workbook.epoch,
            date_formats=workbook._date_formats,
            timedelta_formats=workbook._timedelta_formats,
        )
        for number, found in parser.parse():
            values: list = []
            for cell in found:
                column, value = cell["column"], cell["value"]
                if column > MAX_COLUMNS:
                    if not _blank(value):
                        raise _too_many_columns(number, column)
                    continue
                if column > len(values):
                    values.extend([None] * (column - len(values)))
                values[column - 1] = value
            yield number, values


def _too_many_lines() -> BillError:
    return BillError(
        [
            _("The bill has more than %(max)s lines: split it into several files.")
            % {"max": number_format(MAX_LINES, force_grouping=True)}
        ]
    )


def _too_many_columns(line: int, column: int) -> BillError:
    return BillError(
        [
            _(
                "Line %(line)s has a value in column %(column)s: a bill has at most %(max)s columns (up to "
                "%(last)s). Remove the columns past it."
            )
            % {
                "line": line,
                "column": column_name(column - 1),
                "max": MAX_COLUMNS,
                "last": column_name(MAX_COLUMNS - 1),
            }
        ]
    )


# --- parsing ---------------------------------------------------------------------------------------


def _header_key(value) -> str:
    text = "" if value is None else str(value)
    text = re.sub(r"[（(【\[].*?[）)】\]]", "", text.replace("\ufeff", ""))
    return re.sub(r"[\s_\-.:：#/]+", "", text).lower()


def column_name(index: int) -> str:
    """A, B, …, Z, AA, … as spreadsheets name columns (index from 0)."""
    name = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        name = chr(ord("A") + remainder) + name
    return name


def _blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


@dataclass
class _Columns:
    tracking: int
    fee: int
    tracking_header: str
    fee_header: str


def _find_columns(header: list) -> tuple[_Columns | None, list[str]]:
    """The tracking and fee columns of a header row, or None and why not."""
    keys = [_header_key(value) for value in header]
    tracking = [i for i, key in enumerate(keys) if key in TRACKING_HEADERS]
    fee = [i for i, key in enumerate(keys) if key in FEE_HEADERS]
    problems = []
    for found, what in ((tracking, _("tracking number")), (fee, _("fee"))):
        if len(found) > 1:
            problems.append(
                _("Several columns could be the %(what)s: %(columns)s. Keep only one.")
                % {
                    "what": what,
                    "columns": ", ".join(f"{column_name(i)} ({str(header[i]).strip()})" for i in found),
                }
            )
    if problems or not tracking or not fee:
        return None, problems
    return _Columns(tracking[0], fee[0], str(header[tracking[0]]).strip(), str(header[fee[0]]).strip()), []


def _missing_columns_error(header: list, line: int) -> BillError:
    keys = {_header_key(value) for value in header}
    missing = []
    if not keys & TRACKING_HEADERS:
        missing.append(_("a tracking-number column (运单号, 快递单号, tracking_no or tracking number)"))
    if not keys & FEE_HEADERS:
        missing.append(_("a fee column (费用, 金额, 拦截费, fee or amount)"))
    found = ", ".join(f"{column_name(i)} ({str(v).strip()})" for i, v in enumerate(header) if not _blank(v))
    return BillError(
        [
            _("Line %(line)s is not a bill header: it needs %(missing)s. Columns found: %(found)s.")
            % {"line": line, "missing": _(" and ").join(missing), "found": found or "—"}
        ]
    )


def tracking_text(value) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # a numeric tracking number typed into a spreadsheet
    return re.sub(r"\s+", "", str(value)).upper()


_FEE_NOISE = re.compile(r"[¥￥,，\s]|元|rmb|cny", re.IGNORECASE)


def _fee_value(value) -> Decimal:
    """The fee as Decimal with at most two decimals, or ValueError with the reason."""
    if isinstance(value, bool) or isinstance(value, datetime | date):
        raise ValueError(_("“%(value)s” is not a number") % {"value": value})
    if isinstance(value, float):
        text = str(round(value, 9))  # a spreadsheet formula's 3.3000000000000003 is 3.30
    elif isinstance(value, int | Decimal):
        text = str(value)
    else:
        text = _FEE_NOISE.sub("", str(value))
    try:
        fee = Decimal(text)
    except InvalidOperation:
        raise ValueError(_("“%(value)s” is not a number") % {"value": str(value).strip()}) from None
    if not fee.is_finite():
        raise ValueError(_("“%(value)s” is not a number") % {"value": str(value).strip()})
    if fee < 0:
        raise ValueError(_("the fee %(value)s is negative") % {"value": str(value).strip()})
    if fee != fee.quantize(Decimal("0.01")):
        raise ValueError(_("the fee %(value)s has more than two decimals") % {"value": str(value).strip()})
    if fee >= Decimal("10000000000"):
        raise ValueError(_("the fee %(value)s is too large") % {"value": str(value).strip()})
    return fee.quantize(Decimal("0.01"))


def _is_total_row(cells: list, tracking_cell) -> bool:
    """A final 合计 / Total row: the label in the tracking column, or in another one with no tracking number."""
    if not _blank(tracking_cell):
        return _header_key(tracking_cell) in TOTAL_ROW_LABELS
    return any(isinstance(cell, str) and _header_key(cell) in TOTAL_ROW_LABELS for cell in cells)


def _check_width(line: int, cells: list) -> None:
    """A value past MAX_COLUMNS refuses the bill (blank cells there are nothing)."""
    for index in range(MAX_COLUMNS, len(cells)):
        if not _blank(cells[index]):
            raise _too_many_columns(line, index + 1)


def parse_rows(rows: Iterable[tuple[int, list]]) -> list[BillLine]:
    """Bill lines from (line number, cells) rows: find the header, then read each line below it."""
    rows = iter(rows)
    columns, header_line, first_header = None, None, None
    searched = 0
    for line, cells in rows:
        if all(_blank(cell) for cell in cells):
            continue
        searched += 1
        _check_width(line, cells)
        if first_header is None:
            first_header = (line, cells)
        columns, problems = _find_columns(cells)
        if problems:
            raise BillError([_("Line %(line)s: %(problem)s") % {"line": line, "problem": p} for p in problems])
        if columns is not None:
            header_line = line
            break
        if searched >= HEADER_SEARCH_ROWS:
            break
    if first_header is None:
        raise BillError([_("The file is empty.")])
    if columns is None:
        raise _missing_columns_error(first_header[1], first_header[0])

    lines: list[BillLine] = []
    errors: list[str] = []
    error_count = 0
    for line, cells in rows:
        if all(_blank(cell) for cell in cells):
            continue
        # By the row's number, not by how many came: a sheet may number its second row 1 048 576.
        if line - header_line > MAX_LINES:
            raise _too_many_lines()
        _check_width(line, cells)
        tracking_cell = cells[columns.tracking] if columns.tracking < len(cells) else None
        fee_cell = cells[columns.fee] if columns.fee < len(cells) else None
        if _is_total_row(cells, tracking_cell):
            continue
        if len(lines) + error_count >= MAX_LINES:
            raise _too_many_lines()
        problem = None
        if _blank(tracking_cell):
            problem = (columns.tracking, columns.tracking_header, _("the tracking number is empty"))
        elif len(tracking_text(tracking_cell)) > TRACKING_MAX_LENGTH:
            problem = (columns.tracking, columns.tracking_header, _("the tracking number is too long"))
        elif _blank(fee_cell):
            problem = (columns.fee, columns.fee_header, _("the fee is empty"))
        else:
            try:
                fee = _fee_value(fee_cell)
            except ValueError as error:
                problem = (columns.fee, columns.fee_header, str(error))
        if problem is not None:
            error_count += 1
            if len(errors) < MAX_ERRORS:
                index, header, reason = problem
                errors.append(
                    _("Line %(line)s, column %(column)s (%(header)s): %(reason)s.")
                    % {"line": line, "column": column_name(index), "header": header, "reason": reason}
                )
            continue
        lines.append(BillLine(line=line, tracking_no=tracking_text(tracking_cell), fee=fee))
    if errors:
        if error_count > len(errors):
            errors.append(_("… and %(count)s more lines with errors.") % {"count": error_count - len(errors)})
        raise BillError(errors)
    if not lines:
        raise BillError([_("The bill has no lines below its header (line %(line)s).") % {"line": header_line}])
    return lines
