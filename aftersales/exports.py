"""Workbench exports: the CSV streamed by the request, the XLSX built by the worker.

Both write exactly the rows the workbench lists for the same filters (aftersales.filters), with the
columns of COLUMNS. The XLSX (and the CSV on SQLite) reads them in chunks with
`values_list(...).iterator()` (a server-side cursor on PostgreSQL); the CSV on PostgreSQL is written
by the database itself (COPY … TO STDOUT, streamed). Memory stays flat whatever the number of rows. No
model instances and no per-row lookups: the choice labels are translated once per export, times are
converted with the time zone looked up once.
"""

import logging
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.exceptions import EmptyResultSet
from django.core.files import File
from django.db import connections, transaction
from django.db.models import Case, F, Func, QuerySet, TextField, Value, When
from django.db.models.functions import Cast
from django.http import QueryDict
from django.utils import timezone, translation
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_q.tasks import async_task

from shop import streaming
from shop.exports import SQL_SAFE_CELL
from shop.models import Parcel, Shop

from . import selectors
from .filters import filter_query, filtered_after_sales
from .models import AfterSale, ExportJob

logger = logging.getLogger(__name__)

CHUNK_SIZE = 2000  # rows per round trip of the cursor: a couple of MB at most
PROGRESS_EVERY = 5000  # rows between two progress updates of an XLSX job (one UPDATE each)

# --- the columns ----------------------------------------------------------------------------------
# The one description of the export's columns: their order, header and how a value becomes a cell.
# Both writers read it: the Python path (`_rows`: XLSX, and CSV on SQLite) and PostgreSQL's COPY
# (`_copy_select`: CSV on PostgreSQL), so the two files cannot drift apart (tests/aftersales/
# test_exports_copy.py compares them byte for byte). Headers and labels are translated when an
# export is asked for, in the language then active.
TEXT, LABEL, MONEY, NUMBER, YES_NO, TIME = "text", "label", "money", "number", "yes_no", "time"


@dataclass(frozen=True)
class Column:
    field: str  # the values_list path
    title: Promise  # the header cell
    kind: str = TEXT
    choices: tuple = ()  # LABEL: (code, label) pairs; an unknown code is written as is, none as ""


COLUMNS = (
    Column("after_sale_no", gettext_lazy("After-sale no.")),
    Column("order__order_no", gettext_lazy("Order no.")),
    Column("line__title", gettext_lazy("Goods")),
    Column("type", gettext_lazy("Type"), LABEL, tuple(AfterSale.Type.choices)),
    Column("reason", gettext_lazy("Reason"), LABEL, tuple(AfterSale.Reason.choices)),
    Column("amount", gettext_lazy("Amount"), MONEY),
    Column("refunded_amount", gettext_lazy("Refunded"), MONEY),
    Column("status", gettext_lazy("Status"), LABEL, tuple(AfterSale.Status.choices)),
    Column("sequence", gettext_lazy("Application no."), NUMBER),
    Column("multi_refund", gettext_lazy("Repeat refund"), YES_NO),
    Column("flag", gettext_lazy("Flag"), LABEL, tuple(AfterSale.Flag.choices)),  # no flag: empty, not "no flag"
    Column("remark", gettext_lazy("Remark")),
    Column("buyer__nickname", gettext_lazy("Buyer")),
    Column("buyer__external_id", gettext_lazy("Buyer id")),
    # This and the next two: none when the goods had not shipped (no parcel).
    Column("parcel__courier__name", gettext_lazy("Courier")),
    Column("parcel__tracking_no", gettext_lazy("Tracking no.")),
    Column("parcel__status", gettext_lazy("Logistics status"), LABEL, tuple(Parcel.Status.choices)),
    Column("applied_at", gettext_lazy("Applied at"), TIME),
    Column("deadline", gettext_lazy("Deadline"), TIME),  # none once closed
)
FIELDS = tuple(column.field for column in COLUMNS)


def header() -> list[str]:
    """Column titles in the active language, in the order of COLUMNS."""
    return [str(column.title) for column in COLUMNS]


def ordered(queryset: QuerySet[AfterSale]) -> QuerySet[AfterSale]:
    """The workbench's default order: what times out first, closed ones last."""
    return queryset.order_by(F("deadline").asc(nulls_last=True), "id")


def _labels(choices) -> dict[str, str]:
    """code → its label in the active language, translated now."""
    return {code: str(label) for code, label in choices if code}


def _rows(queryset: QuerySet[AfterSale], *, amount: Callable, time: Callable) -> Iterator[list]:
    """The export's rows in COLUMNS order, "" for nothing; `amount` and `time` format those cells.

    The labels are translated here, in the language active when the export is asked for, not row by row
    while the response streams.
    """
    yes, no = _("yes"), _("no")

    def cell(column: Column) -> Callable:
        if column.kind == LABEL:
            labels = _labels(column.choices)
            return lambda code: labels.get(code, code or "")
        if column.kind == MONEY:
            return amount
        if column.kind == YES_NO:
            return lambda value: yes if value else no
        if column.kind == TIME:
            return lambda value: time(value) if value else ""
        if column.kind == NUMBER:
            return lambda value: value
        return lambda value: "" if value is None else value

    cells = [cell(column) for column in COLUMNS]

    def generate():
        for row in streaming.read_all(ordered(queryset).values_list(*FIELDS), chunk_size=CHUNK_SIZE):
            yield [to_cell(value) for to_cell, value in zip(cells, row, strict=True)]

    return generate()


def rows(queryset: QuerySet[AfterSale]) -> Iterator[list]:
    """One row per after-sale: labels in the active language, amounts as Decimal, times as naive
    datetimes of the active time zone (Asia/Shanghai), "" for nothing."""
    zone = timezone.get_current_timezone()
    return _rows(queryset, amount=lambda value: value, time=lambda value: value.astimezone(zone).replace(tzinfo=None))


def csv_rows(queryset: QuerySet[AfterSale]) -> Iterator[list]:
    """The rows as CSV cells: amounts with two decimals, times as "YYYY-MM-DD HH:MM" in the active time zone."""
    zone = timezone.get_current_timezone()
    return _rows(
        queryset,
        amount="{:.2f}".format,
        # "2026-11-22 10:15+08:00"[:16]: isoformat is C code, several times faster than strftime.
        time=lambda value: value.astimezone(zone).isoformat(" ", "minutes")[:16],
    )


def csv_chunks(queryset: QuerySet[AfterSale]) -> Iterable[str | bytes]:
    """The CSV in pieces of whole lines, starting with a BOM so that Excel reads it as UTF-8.

    On PostgreSQL the database writes the rows (COPY … TO STDOUT, several times faster than formatting
    them in Python); elsewhere Python does. The same file either way.
    """
    if connections[queryset.db].vendor == "postgresql":
        try:
            select = _copy_select(queryset)
        except EmptyResultSet:  # a filter that can match nothing has no SQL: the header alone
            return streaming.csv_pieces(header(), [])
        return streaming.copy_csv_pieces(header(), *select, using=queryset.db)
    return streaming.csv_pieces(header(), csv_rows(queryset))


def _copy_select(queryset: QuerySet[AfterSale]) -> tuple[str, list]:
    """The SELECT whose rows COPY writes as the CSV: every cell as the text `csv_rows` makes of it.

    The inner query (the ORM's, so the filters and the tenant's scope are the page's own) turns each
    column into its text: labels by a CASE of the translated choices, amounts as numeric text ("129.00",
    the column has two decimals), times as the wall-clock minute in the active time zone. The outer one
    neutralises formulas like `shop.exports.safe_cell` and turns "" into NULL, which COPY writes as an
    empty unquoted cell as Python's csv module does (an empty string it would quote).
    """
    zone = timezone.get_current_timezone_name()
    yes, no = _("yes"), _("no")

    def as_text(column: Column):
        value = F(column.field)
        if column.kind == LABEL:
            whens = [When(**{column.field: code}, then=Value(label)) for code, label in _labels(column.choices).items()]
            return Case(*whens, default=Cast(value, TextField()), output_field=TextField())
        if column.kind == YES_NO:
            return Case(When(**{column.field: True}, then=Value(yes)), default=Value(no), output_field=TextField())
        if column.kind == TIME:
            return _WallClockMinute(Value(zone), value)
        return Cast(value, TextField())

    aliases = [f"c{i}" for i in range(len(COLUMNS))]
    inner = queryset.order_by().annotate(
        **{alias: as_text(column) for alias, column in zip(aliases, COLUMNS, strict=True)},
        k_deadline=F("deadline"),
        k_id=F("id"),
    )
    sql, params = inner.values_list(*aliases, "k_deadline", "k_id").query.sql_with_params()
    cells = ", ".join(
        f"NULLIF({alias}, '')"
        if column.kind in (MONEY, NUMBER, TIME)
        else f"NULLIF({SQL_SAFE_CELL % {'cell': alias}}, '')"
        for alias, column in zip(aliases, COLUMNS, strict=True)
    )
    # The workbench's order (ordered() above), on the outer query so that COPY writes the rows in it.
    return f"SELECT {cells} FROM ({sql}) AS export ORDER BY k_deadline ASC NULLS LAST, k_id ASC", list(params)


class _WallClockMinute(Func):
    """PostgreSQL: "YYYY-MM-DD HH:MM" of a timestamptz in a time zone (timezone(zone, value))."""

    template = "to_char(timezone(%(expressions)s), 'YYYY-MM-DD HH24:MI')"
    output_field = TextField()


def export_filename(extension: str, at: datetime) -> str:
    return f"aftersales-{timezone.localtime(at):%Y%m%d-%H%M}.{extension}"


# --- the XLSX job --------------------------------------------------------------------------------
def jobs_for_shop(*, shop: Shop) -> QuerySet[ExportJob]:
    """The shop's export jobs: another shop's job is a 404, exactly like a missing one."""
    return ExportJob.objects.filter(shop=shop)


def start_xlsx_export(*, shop: Shop, user, params, language: str | None = None) -> ExportJob:
    """Record the job with the page's filters and hand it to the worker once the row is committed."""
    job = ExportJob.objects.create(shop=shop, user=user, format=ExportJob.Format.XLSX, query=filter_query(params))
    language = language or translation.get_language()
    transaction.on_commit(lambda: async_task("aftersales.exports.build_xlsx", job.pk, language))
    return job


def build_xlsx(job_id: int, language: str | None = None) -> str:
    """Write the job's rows to an XLSX file. Safe to run twice: a done job is left alone.

    The filters are replayed as of the job's creation, so "deadline within 12 h" means what it
    meant when the merchant clicked. Returns the job's final status.
    """
    job = ExportJob.objects.select_related("shop").filter(pk=job_id).first()
    if job is None or job.status == ExportJob.Status.DONE:
        return job.status if job else "missing"
    ExportJob.objects.filter(pk=job.pk).update(status=ExportJob.Status.RUNNING, rows_done=0, error="")
    try:
        with translation.override(language or settings.LANGUAGE_CODE):
            written = _write_xlsx(job)
    except Exception as exc:  # the job records the failure; the merchant sees it on the progress page
        logger.exception("XLSX export %s failed", job.pk)
        ExportJob.objects.filter(pk=job.pk).exclude(status=ExportJob.Status.DONE).update(
            status=ExportJob.Status.FAILED, error=str(exc)[:300], finished_at=timezone.now()
        )
        return ExportJob.Status.FAILED
    finished = (
        ExportJob.objects.filter(pk=job.pk)
        .exclude(status=ExportJob.Status.DONE)
        .update(status=ExportJob.Status.DONE, rows_done=written, file=job.file.name, finished_at=timezone.now())
    )
    if not finished:  # a concurrent run finished first: keep its file, drop ours
        job.file.delete(save=False)
    return ExportJob.Status.DONE


def _write_xlsx(job: ExportJob) -> int:
    queryset = filtered_after_sales(
        selectors.after_sales_for_shop(shop=job.shop), QueryDict(job.query), now=job.created_at
    )
    ExportJob.objects.filter(pk=job.pk).update(rows_total=queryset.count())
    with tempfile.TemporaryFile() as tmp:
        written = streaming.write_xlsx(
            tmp, title=_("After-sales"), header=header(), rows=_with_progress(job, rows(queryset))
        )
        tmp.seek(0)
        name = export_filename("xlsx", job.created_at)
        job.file.save(name, File(tmp, name=name), save=False)
    return written


def _with_progress(job: ExportJob, rows: Iterator[tuple]) -> Iterator[tuple]:
    """The rows, recording every PROGRESS_EVERY rows how many were handed on (one UPDATE, not one per row)."""
    for done, row in enumerate(rows, start=1):
        yield row
        if done % PROGRESS_EVERY == 0:
            ExportJob.objects.filter(pk=job.pk).update(rows_done=done)
