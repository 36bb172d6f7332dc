"""Reconciliation against the outlet's bill: read the bill (CSV or XLSX), match it with our lines.

Pure functions, no database: `read_bill` (in `bills`) turns the uploaded bytes into bill lines or
raises `BillError` with messages that name the line and the column; `match` (in `matching`)
compares bill lines with the statement's lines. `services.reconcile_statement` stores the result,
only for a valid bill. Import from the package: `reconciliation.read_bill`, `reconciliation.match`.
"""

from .bills import MAX_BYTES, BillError, BillLine, column_name, parse_rows, read_bill
from .matching import KindTotals, MatchResult, OurLine, Row, match

__all__ = [
    "MAX_BYTES",
    "BillError",
    "BillLine",
    "KindTotals",
    "MatchResult",
    "OurLine",
    "Row",
    "column_name",
    "match",
    "parse_rows",
    "read_bill",
]
