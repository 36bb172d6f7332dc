"""Exports: a statement's lines, the same for both sides (CSV streamed, XLSX written row by row), and a
reconciliation's differences (CSV streamed). All through `shop.streaming`, whose writers neutralise
formula starters in text cells (`shop.exports.safe_cell`)."""

import tempfile

from django.http import FileResponse, StreamingHttpResponse
from django.utils.translation import gettext_lazy

from shop import streaming
from shop.localtime import local_format

from . import selectors
from .models import Reconciliation, ReconciliationRow, Statement

EXPORT_HEADER = (
    gettext_lazy("Service order"),
    gettext_lazy("Tracking no."),
    gettext_lazy("Intercepted at"),
    gettext_lazy("Fee (yuan)"),
)


def export_rows(statement: Statement):
    """The statement's lines for both exports: times in Asia/Shanghai, read in chunks."""
    lines = selectors.statement_lines(statement=statement).values_list(
        "service_order_id", "tracking_no", "succeeded_at", "amount"
    )
    for service_order_id, tracking_no, succeeded_at, amount in lines.iterator(chunk_size=2000):
        yield [f"SO{service_order_id:08d}", tracking_no, local_format(succeeded_at, "%Y-%m-%d %H:%M:%S"), amount]


def export_name(statement: Statement, extension: str) -> str:
    return f"statement-{statement.shop.code}-{statement.outlet.code}-{statement.month:%Y-%m}.{extension}"


def csv_response(statement: Statement) -> StreamingHttpResponse:
    """The lines as CSV, streamed (memory stays flat), with a BOM so spreadsheet programs read UTF-8."""
    rows = ([*row[:3], f"{row[3]:.2f}"] for row in export_rows(statement))
    return streaming.csv_response(filename=export_name(statement, "csv"), header=EXPORT_HEADER, rows=rows)


def xlsx_response(statement: Statement) -> FileResponse:
    """The lines as XLSX, written row by row to a temporary file (fees as numbers)."""
    handle = tempfile.TemporaryFile()
    streaming.write_xlsx(handle, title=f"{statement.month:%Y-%m}", header=EXPORT_HEADER, rows=export_rows(statement))
    handle.seek(0)
    return FileResponse(handle, as_attachment=True, filename=export_name(statement, "xlsx"))


DIFFERENCES_HEADER = (
    gettext_lazy("Result"),
    gettext_lazy("Tracking no."),
    gettext_lazy("Bill line"),
    gettext_lazy("Billed fee"),
    gettext_lazy("Our fee"),
    gettext_lazy("Difference"),
)


def differences_csv_response(record: Reconciliation) -> StreamingHttpResponse:
    """Every row of the reconciliation that is not a match, streamed as CSV, read in chunks."""
    labels = dict(ReconciliationRow.Kind.choices)

    def money(value):
        return "" if value is None else f"{value:.2f}"

    def rows():
        found = selectors.reconciliation_rows(reconciliation=record, differences_only=True).values_list(
            "kind", "tracking_no", "bill_line", "billed_fee", "our_fee"
        )
        for kind, tracking_no, bill_line, billed, ours in found.iterator(chunk_size=2000):
            difference = (billed or 0) - (ours or 0)
            yield [str(labels[kind]), tracking_no, bill_line or "", money(billed), money(ours), f"{difference:.2f}"]

    name = f"reconciliation-{record.pk}-differences.csv"
    return streaming.csv_response(filename=name, header=DIFFERENCES_HEADER, rows=rows())
