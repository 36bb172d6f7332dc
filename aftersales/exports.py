"""Workbench exports: the CSV streamed by the request, the XLSX built by the worker.

Both write exactly the rows the workbench lists for the same filters (aftersales.filters), read in
chunks with `values_list(...).iterator()`, so memory stays flat whatever the number of rows.
"""

import logging
import tempfile
from collections.abc import Iterable, Iterator
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.db.models import F, QuerySet
from django.http import QueryDict
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django_q.tasks import async_task

from shop import streaming
from shop.models import Parcel, Shop

from . import selectors
from .filters import filter_query, filtered_after_sales
from .models import AfterSale, ExportJob

logger = logging.getLogger(__name__)

CHUNK_SIZE = 2000
PROGRESS_EVERY = 1000  # rows between two progress updates of an XLSX job

FIELDS = (
    "after_sale_no",
    "order__order_no",
    "line__title",
    "type",
    "reason",
    "amount",
    "refunded_amount",
    "status",
    "sequence",
    "multi_refund",
    "flag",
    "remark",
    "buyer__nickname",
    "buyer__external_id",
    "parcel__courier__name",
    "parcel__tracking_no",
    "parcel__status",
    "applied_at",
    "deadline",
)


def header() -> list[str]:
    """Column titles in the active language, in the order of FIELDS."""
    return [
        _("After-sale no."),
        _("Order no."),
        _("Goods"),
        _("Type"),
        _("Reason"),
        _("Amount"),
        _("Refunded"),
        _("Status"),
        _("Application no."),
        _("Repeat refund"),
        _("Flag"),
        _("Remark"),
        _("Buyer"),
        _("Buyer id"),
        _("Courier"),
        _("Tracking no."),
        _("Logistics status"),
        _("Applied at"),
        _("Deadline"),
    ]


def ordered(queryset: QuerySet[AfterSale]) -> QuerySet[AfterSale]:
    """The workbench's default order: what times out first, closed ones last."""
    return queryset.order_by(F("deadline").asc(nulls_last=True), "id")


def rows(queryset: QuerySet[AfterSale]) -> Iterator[list]:
    """One list per after-sale: labels in the active language, times as naive Asia/Shanghai datetimes."""
    labels = {
        "type": dict(AfterSale.Type.choices),
        "reason": dict(AfterSale.Reason.choices),
        "status": dict(AfterSale.Status.choices),
        "flag": {value: label for value, label in AfterSale.Flag.choices if value},
        "parcel__status": dict(Parcel.Status.choices),
    }
    labels = {field: {code: str(label) for code, label in choices.items()} for field, choices in labels.items()}
    yes, no = _("yes"), _("no")
    positions = {field: i for i, field in enumerate(FIELDS)}
    for values in ordered(queryset).values_list(*FIELDS).iterator(chunk_size=CHUNK_SIZE):
        row = list(values)
        for field, choices in labels.items():
            code = row[positions[field]]
            row[positions[field]] = choices.get(code, code or "")
        row[positions["multi_refund"]] = yes if row[positions["multi_refund"]] else no
        for field in ("applied_at", "deadline"):
            value = row[positions[field]]
            row[positions[field]] = timezone.localtime(value).replace(tzinfo=None) if value else None
        yield ["" if value is None else value for value in row]


def _csv_cell(value) -> str:
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return str(value)


def csv_chunks(queryset: QuerySet[AfterSale]) -> Iterable[str]:
    """The CSV, line by line, starting with a BOM so that Excel reads it as UTF-8."""
    yield from streaming.csv_lines(header(), ([_csv_cell(value) for value in row] for row in rows(queryset)))


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
    from openpyxl import Workbook

    queryset = filtered_after_sales(
        selectors.after_sales_for_shop(shop=job.shop), QueryDict(job.query), now=job.created_at
    )
    ExportJob.objects.filter(pk=job.pk).update(rows_total=queryset.count())
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=_("After-sales")[:31])
    sheet.append(header())
    written = 0
    for row in rows(queryset):
        sheet.append(row)
        written += 1
        if written % PROGRESS_EVERY == 0:
            ExportJob.objects.filter(pk=job.pk).update(rows_done=written)
    with tempfile.TemporaryFile() as tmp:
        workbook.save(tmp)
        tmp.seek(0)
        name = export_filename("xlsx", job.created_at)
        job.file.save(name, File(tmp, name=name), save=False)
    return written
