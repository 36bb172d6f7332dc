"""Export columns described once: the header's label, the field, and how a stored code reads.

Every export of a list (CSV streamed by Python, XLSX, or CSV written by PostgreSQL's COPY) takes
its header and its cells from the same `ExportColumn`s, so a header or a value is translated in one
place whatever writes the file:

- `header(columns)` — the titles in the active language;
- `values_queryset(queryset, columns)` — the queryset's `values_list` of the columns, with each
  column's annotation (a computed value such as "the fee, only when charged") and, for a coded column,
  a `CASE code WHEN … THEN label` in the active language: its SQL is what a COPY path runs
  (`str(qs.query)` / the compiler's `as_sql()`), and iterating it is what the Python path writes;
- `ExportColumn.label_of(code)` — the same mapping for code that formats cells in Python.

Labels are read when the export is asked for, in the language active then (the request's), never at
import time.
"""

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from django.db.models import Case, CharField, Expression, F, QuerySet, Value, When
from django.utils.functional import Promise


@dataclass(frozen=True)
class ExportColumn:
    header: str | Promise  # a lazy translation: the column's title
    field: str  # the values_list path, or the name of `annotation`
    # code → label, as choices ((code, lazy label), …) or a mapping; the cell shows the label.
    labels: Iterable[tuple[str, str | Promise]] | Mapping[str, str | Promise] | None = None
    # A computed cell (an expression over the row), annotated under `field`.
    annotation: Callable[[], Expression] | None = None

    def label_map(self) -> dict[str, str]:
        """code → label in the active language; empty for a column without labels."""
        if self.labels is None:
            return {}
        pairs = self.labels.items() if isinstance(self.labels, Mapping) else self.labels
        return {code: str(label) for code, label in pairs if code}

    def label_of(self, code):
        """The cell of `code`: its label, an unknown code as it is, nothing as ""."""
        if self.labels is None:
            return code
        return self.label_map().get(code, code or "")

    def expression(self) -> Expression:
        """The cell as SQL: the field, or `CASE field WHEN code THEN label … ELSE field END` for codes."""
        source = self.annotation() if self.annotation is not None else F(self.field)
        labels = self.label_map()
        if not labels:
            return source
        whens = [When(**{_lookup(self): code}, then=Value(label)) for code, label in labels.items()]
        return Case(*whens, default=source, output_field=CharField())


def _lookup(column: ExportColumn) -> str:
    # A computed column is compared through its annotation's name; a stored one through its path.
    return f"_src_{column.field.replace('__', '_')}" if column.annotation is not None else column.field


def header(columns: Iterable[ExportColumn]) -> list[str]:
    """The columns' titles in the active language."""
    return [str(column.header) for column in columns]


def values_queryset(queryset: QuerySet, columns: list[ExportColumn]) -> QuerySet:
    """The rows as `values_list` in the columns' order, labels and computed cells done by the database."""
    sources = {_lookup(c): c.annotation() for c in columns if c.annotation is not None and c.labels is not None}
    computed = {c.field: c.annotation() for c in columns if c.annotation is not None and c.labels is None}
    queryset = queryset.annotate(**sources, **computed) if sources or computed else queryset
    cells = {f"_cell_{i}": c.expression() for i, c in enumerate(columns) if c.labels is not None}
    if cells:
        queryset = queryset.annotate(**cells)
    names = [f"_cell_{i}" if c.labels is not None else c.field for i, c in enumerate(columns)]
    return queryset.values_list(*names)
