"""The one cell function of every file the app writes for a spreadsheet program (CSV and XLSX).

`safe_cell(value)` keeps a text cell from being read as a formula (CSV or formula injection, OWASP):
a text that starts with `=`, `+`, `-`, `@`, a tab or a carriage return gets a single quote in front,
which spreadsheet programs show as text and never run (`=HYPERLINK(…)` → `'=HYPERLINK(…)`). The
writers in `shop.streaming` pass every header and body cell through it; no other module writes CSV
or XLSX (tests/shop/test_exports.py greps for that).

Numbers stay numbers: int, float, Decimal, bool, dates and None are returned as they are (a negative
amount is a number cell, not text). A text that is a plain decimal number (`-3.00`, `+86`, `-5`) is
left too: the CSV exports write money as such text, and a number cannot carry a formula. Any other
text is neutralised whatever it means: a remark `-1+1` is exported as `'-1+1`, so the merchant sees
exactly what was typed, with a quote in front, and nothing is calculated. Other objects (lazy
translations, choices) are turned into text first, then checked like text.
"""

import re
from datetime import date
from decimal import Decimal

FORMULA_STARTERS = frozenset("=+-@\t\r")
QUOTE = "'"
# ASCII digits only, as in SQL_SAFE_CELL: a text of other digits (full-width "－１") is text.
_PLAIN_NUMBER = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?\Z")
# The same rule as `safe_cell` in PostgreSQL, for the exports the database writes itself (COPY …
# TO STDOUT): `%(cell)s` is a column of text. A quote in front of a text starting with a formula
# character, unless it is a plain decimal number.
SQL_SAFE_CELL = (
    "CASE WHEN left(%(cell)s, 1) IN ('=', '+', '-', '@', E'\\t', E'\\r')"
    " AND %(cell)s !~ '^[+-]?[0-9]+(\\.[0-9]+)?$' THEN '''' || %(cell)s ELSE %(cell)s END"
)
_AS_THEY_ARE = (int, float, Decimal, date)  # bool is an int, datetime a date


def safe_cell(value):
    """The value as a spreadsheet may hold it without running it: see the module's docstring."""
    if value is None or isinstance(value, _AS_THEY_ARE):
        return value
    if not isinstance(value, str):
        value = str(value)
    if value and value[0] in FORMULA_STARTERS and not _PLAIN_NUMBER.match(value):
        return QUOTE + value
    return value


def safe_row(row) -> list:
    """Every cell of a row through `safe_cell`."""
    return [safe_cell(value) for value in row]
