"""Decisions on many after-sales at once (seed 002, steps 2-3): reject the signed-for refund-only ones,
each with an image of its own parcel's tracking timeline, and invite the buyer to return instead; refund
the ones whose parcel came back.

The merchant's confirmation records a BulkJob; the worker carries it out one after-sale at a time,
each whole or not at all, its outcome written in the same transaction (so a job run twice, or by two
workers at once, acts once per after-sale and reports every row).
"""

from dataclasses import replace
from datetime import datetime

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django_q.tasks import async_task

from shop import permissions
from shop.errors import DomainError, NotFound
from shop.evidence import checked_evidence
from shop.models import Parcel, Shop, TrackingEvent
from shop.permissions import PermissionRefused, PermissionSet

from .. import evidence_images, rules
from ..models import AfterSale, BulkJob, BulkJobRow
from .buyer import application_facts
from .merchant import _ensure, _merchant_after_sale, action_facts, agreed_refund, rejected, send_after_sale_card

# One confirmation acts on at most this many after-sales: a day's signed ones of a busy shop, and a
# job that a worker finishes in about a minute (an image and a rejection take ~0.1 s each).
MAX_BULK_AFTER_SALES = 500


def start_reject_signed(*, send_card: bool, note: str = "", **kwargs) -> BulkJob:
    """Reject the ticked signed-for ones with their timelines (`send_card`: and invite a return)."""
    return start_bulk_job(kind=BulkJob.Kind.REJECT_SIGNED, send_card=send_card, note=note, **kwargs)


def start_refund_returned(**kwargs) -> BulkJob:
    """Refund the ticked ones whose parcel came back."""
    return start_bulk_job(kind=BulkJob.Kind.REFUND_RETURNED, **kwargs)


def start_bulk_job(
    *,
    kind: str,
    shop: Shop,
    user,
    versions: dict[int, int],
    send_card: bool = False,
    note: str = "",
    query: str = "",
    at: datetime | None = None,
    language: str | None = None,
) -> BulkJob:
    """Record the merchant's decision for the ticked after-sales and hand it to the worker.

    Refused whole (nothing recorded) when nothing or too much is ticked, or when a ticked id is not one
    of the shop's after-sales; what each after-sale allows is checked row by row by the worker.
    """
    permissions.require(user, PermissionSet.AFTERSALES)
    if not versions:
        raise DomainError(_("Select at least one after-sale."), code="nothing_selected")
    if len(versions) > MAX_BULK_AFTER_SALES:
        raise DomainError(
            _("At most %(n)s after-sales at once: narrow the filters.") % {"n": MAX_BULK_AFTER_SALES},
            code="too_many",
        )
    if AfterSale.objects.filter(shop=shop, pk__in=list(versions)).count() != len(versions):
        raise NotFound(_("After-sale not found."))
    job = BulkJob.objects.create(
        shop=shop,
        user=user,
        kind=kind,
        versions={str(pk): version for pk, version in sorted(versions.items())},
        send_card=send_card,
        note=note.strip()[:200],
        query=query[:2000],
        language=language or translation.get_language(),
        created_at=at or timezone.now(),
    )
    transaction.on_commit(lambda: async_task("aftersales.tasks.run_bulk_job", job.pk))
    return job


def run_bulk_job(job_id: int, *, at: datetime | None = None) -> str:
    """Carry out a job's rows that have no outcome yet; returns the job's status ("missing" if gone)."""
    job = BulkJob.objects.select_related("shop", "user").filter(pk=job_id).first()
    if job is None:
        return "missing"
    if job.status == BulkJob.Status.DONE:
        return job.status
    BulkJob.objects.filter(pk=job.pk, status=BulkJob.Status.QUEUED).update(status=BulkJob.Status.RUNNING)
    done = set(job.rows.values_list("after_sale_id", flat=True))
    with translation.override(job.language):
        for key, version in sorted(job.versions.items(), key=lambda item: int(item[0])):
            if int(key) not in done:
                _run_row(job, int(key), int(version), at=at)
    BulkJob.objects.filter(pk=job.pk).exclude(status=BulkJob.Status.DONE).update(
        status=BulkJob.Status.DONE, finished_at=at or timezone.now()
    )
    return BulkJob.Status.DONE


def _reject_row(job: BulkJob, after_sale_id: int, version: int, at: datetime) -> None:
    reject_signed_with_timeline(
        after_sale_id=after_sale_id,
        shop=job.shop,
        user=job.user,
        expected_version=version,
        send_card=job.send_card,
        note=job.note,
        at=at,
    )


def _refund_row(job: BulkJob, after_sale_id: int, version: int, at: datetime) -> None:
    refund_returned(after_sale_id=after_sale_id, shop=job.shop, user=job.user, expected_version=version, at=at)


ROW_ACTIONS = {BulkJob.Kind.REJECT_SIGNED: _reject_row, BulkJob.Kind.REFUND_RETURNED: _refund_row}


def _run_row(job: BulkJob, after_sale_id: int, version: int, *, at: datetime | None) -> None:
    now = at or timezone.now()
    try:
        with transaction.atomic():
            ROW_ACTIONS[job.kind](job, after_sale_id, version, now)
            BulkJobRow.objects.create(job=job, after_sale_id=after_sale_id, ok=True, at=now)
    except (DomainError, NotFound, PermissionRefused) as refusal:
        # Another worker may have recorded this row meanwhile (then its outcome stands).
        BulkJobRow.objects.get_or_create(
            job=job, after_sale_id=after_sale_id, defaults={"ok": False, "reason": refusal.message[:300], "at": now}
        )


def timeline_entries(parcel: Parcel) -> list[evidence_images.TimelineEntry]:
    """The parcel's tracking events as the image shows them, newest first."""
    labels = dict(Parcel.Status.choices)
    events = TrackingEvent.objects.filter(parcel=parcel).order_by("-at", "-id").values_list("at", "status", "note")
    return [evidence_images.TimelineEntry(at, str(labels.get(status, status)), note) for at, status, note in events]


def timeline_image(after_sale: AfterSale, parcel: Parcel, *, at: datetime) -> bytes:
    entries = timeline_entries(parcel)
    return evidence_images.timeline_png(
        courier=parcel.courier.name,
        tracking_no=parcel.tracking_no,
        after_sale_no=after_sale.after_sale_no,
        entries=entries,
        generated_at=at,
    )


@transaction.atomic
def reject_signed_with_timeline(
    *,
    after_sale_id: int,
    shop: Shop,
    user,
    expected_version: int | None,
    send_card: bool,
    note: str = "",
    at: datetime | None = None,
) -> AfterSale:
    """Reject a signed-for refund-only after-sale with reason 已签收, its parcel's timeline attached, and
    (`send_card`) invite the buyer to apply for return and refund. All of it, or nothing: every check,
    the card's included, runs before the first write."""
    permissions.require(user, PermissionSet.AFTERSALES)
    at = at or timezone.now()
    after_sale = _merchant_after_sale(after_sale_id, shop, expected_version)
    _ensure(rules.signed_reject_blocker(action_facts(after_sale)))
    parcel = Parcel.objects.select_related("courier").get(pk=after_sale.parcel_id)
    signed_at = (
        TrackingEvent.objects.filter(parcel=parcel, status=Parcel.Status.SIGNED)
        .order_by("-at")
        .values_list("at", flat=True)
        .first()
    )
    if signed_at is None:
        raise DomainError(_("The parcel's tracking holds no signature event to show."), code="no_signature_event")
    if send_card:
        # As the card will see the line once this after-sale is closed by the rejection.
        facts = replace(application_facts(after_sale.order, after_sale.line), line_has_open_after_sale=False)
        try:
            rules.check_application(facts, type=AfterSale.Type.REFUND_ONLY, amount=None)
        except rules.Refusal as refusal:
            raise DomainError(
                _("The after-sale card cannot be sent (%(reason)s): untick it to reject without it.")
                % {"reason": refusal.message.rstrip("。.")},
                code=refusal.code,
            ) from None
    image = SimpleUploadedFile("timeline.png", timeline_image(after_sale, parcel, at=at), content_type="image/png")
    when = f"{timezone.localtime(signed_at):%m-%d %H:%M}"
    signed = _("Tracking shows the parcel signed for on %(at)s.") % {"at": when}
    # Already locked and checked above: the rejection's own writes, not reject_after_sale's second lock.
    after_sale = rejected(
        after_sale,
        user=user,
        reason=AfterSale.RejectReason.GOODS_SIGNED,
        note=f"{signed} {note}".strip(),
        evidence=checked_evidence([image]),
        at=at,
    )
    if send_card:
        send_after_sale_card(shop=shop, user=user, line_id=after_sale.line_id, after_sale_id=after_sale.pk, at=at)
    return after_sale


@transaction.atomic
def refund_returned(
    *, after_sale_id: int, shop: Shop, user, expected_version: int | None, at: datetime | None = None
) -> AfterSale:
    """Agree the refund of a refund-only after-sale whose parcel is back with the merchant."""
    permissions.require(user, PermissionSet.AFTERSALES)
    after_sale = _merchant_after_sale(after_sale_id, shop, expected_version)
    _ensure(rules.returned_refund_blocker(action_facts(after_sale)))  # agree_refund's rule, and more
    return agreed_refund(after_sale, user=user, at=at)
