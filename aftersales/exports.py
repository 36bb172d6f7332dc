"""Workbench exports: the CSV streamed by the request, the XLSX built by the worker.

Both write exactly the rows the workbench lists for the same filters (aftersales.filters), read in
chunks with `values_list(...).iterator()` (a server-side cursor on PostgreSQL), so memory stays flat
whatever the number of rows. No model instances and no per-row lookups: the choice labels are
translated once per export, times are converted with the time zone looked up once.
"""

import logging
import tempfile
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime

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

CHUNK_SIZE = 2000  # rows per round trip of the cursor: a couple of MB at most
PROGRESS_EVERY = 5000  # rows between two progress updates of an XLSX job (one UPDATE each)

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


def _labels(choices) -> Callable[[str | None], str]:
    """code → its label in the active language, translated now; an unknown code as is, no code as ""."""
    labels = {code: str(label) for code, label in choices if code}
    return lambda code: labels.get(code, code or "")


def _rows(queryset: QuerySet[AfterSale], *, amount: Callable, time: Callable) -> Iterator[tuple]:
    """The export's rows in FIELDS order, "" for nothing; `amount` and `time` format those cells.

    The labels are translated here, in the language active when the export is asked for, not row by row
    while the response streams.
    """
    type_label = _labels(AfterSale.Type.choices)
    reason_label = _labels(AfterSale.Reason.choices)
    status_label = _labels(AfterSale.Status.choices)
    flag_label = _labels(AfterSale.Flag.choices)  # no flag: an empty cell, not "no flag"
    parcel_label = _labels(Parcel.Status.choices)
    yes, no = _("yes"), _("no")

    def generate():
        for (
            after_sale_no,
            order_no,
            title,
            type_,
            reason,
            amount_,
            refunded,
            status,
            sequence,
            multi_refund,
            flag,
            remark,
            nickname,
            buyer_id,
            courier,  # this and the next two: none when the goods had not shipped (no parcel)
            tracking_no,
            parcel_status,
            applied_at,
            deadline,  # none once closed
        ) in streaming.read_all(ordered(queryset).values_list(*FIELDS), chunk_size=CHUNK_SIZE):
            yield (
                after_sale_no,
                order_no,
                title,
                type_label(type_),
                reason_label(reason),
                amount(amount_),
                amount(refunded),
                status_label(status),
                sequence,
                yes if multi_refund else no,
                flag_label(flag),
                remark,
                nickname,
                buyer_id,
                courier or "",
                tracking_no or "",
                parcel_label(parcel_status),
                time(applied_at),
                time(deadline) if deadline else "",
            )

    return generate()


def rows(queryset: QuerySet[AfterSale]) -> Iterator[tuple]:
    """One tuple per after-sale: labels in the active language, amounts as Decimal, times as naive
    datetimes of the active time zone (Asia/Shanghai), "" for nothing."""
    zone = timezone.get_current_timezone()
    return _rows(queryset, amount=lambda value: value, time=lambda value: value.astimezone(zone).replace(tzinfo=None))


def csv_rows(queryset: QuerySet[AfterSale]) -> Iterator[tuple]:
    """The rows as CSV cells: amounts with two decimals, times as "YYYY-MM-DD HH:MM" in the active time zone."""
    zone = timezone.get_current_timezone()
    return _rows(
        queryset,
        amount="{:.2f}".format,
        # "2026-11-22 10:15+08:00"[:16]: isoformat is C code, several times faster than strftime.
        time=lambda value: value.astimezone(zone).isoformat(" ", "minutes")[:16],
    )


def csv_chunks(queryset: QuerySet[AfterSale]) -> Iterable[str]:
    """The CSV in pieces of whole lines, starting with a BOM so that Excel reads it as UTF-8."""
    return streaming.csv_pieces(header(), csv_rows(queryset))


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
