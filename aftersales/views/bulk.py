"""Bulk decisions on refund-only after-sales (seed 002, steps 2-3): reject the signed-for ones, refund the
ones whose parcel came back. A confirmation lists what will and will not be done, the worker carries out
the job, its page shows each row; and the image of a parcel's timeline, as a rejection attaches it."""

from django.contrib import messages
from django.http import Http404, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import DetailView

from shop.access import MerchantRequiredMixin
from shop.errors import DomainError, NotFound
from shop.permissions import PermissionSet
from shop.views import form_errors_message

from .. import filters, rules, selectors, services
from ..forms import BulkRejectSignedForm, BulkSelectionForm
from ..models import BulkJob
from ..services import bulk
from .workbench import workbench_url


class BulkPreviewView(MerchantRequiredMixin, View):
    """From the workbench (the ticked rows, or every filtered one): what the bulk action will do, row by row.

    A subclass names its template and says why an after-sale is left out (`blocker`).
    """

    permission_set = PermissionSet.AFTERSALES
    http_method_names = ["post", "options"]
    template_name: str

    def blocker(self, after_sale) -> str | None:
        raise NotImplementedError

    def extra_context(self) -> dict:
        return {}

    def post(self, request):
        query = filters.filter_query(QueryDict(request.POST.get("query", "")))
        back = workbench_url(QueryDict(query))
        if request.POST.get("all_filtered"):
            rows = filters.filtered_after_sales(
                selectors.after_sales_for_shop(shop=self.shop), QueryDict(query), now=timezone.now()
            )
            rows = rows.order_by("deadline", "pk").values_list("pk", "version")
            versions = dict(rows[: bulk.MAX_BULK_AFTER_SALES + 1])
        else:
            form = BulkSelectionForm(request.POST)
            if not form.is_valid():
                messages.error(request, form_errors_message(form))
                return redirect(back)
            versions = form.cleaned_data["versions"]
        if not versions:
            messages.error(request, _("Select at least one after-sale."))
            return redirect(back)
        if len(versions) > bulk.MAX_BULK_AFTER_SALES:
            messages.error(
                request, _("At most %(n)s after-sales at once: narrow the filters.") % {"n": bulk.MAX_BULK_AFTER_SALES}
            )
            return redirect(back)
        candidates = selectors.bulk_candidates(shop=self.shop, ids=list(versions))
        if len(candidates) != len(versions):
            raise Http404  # a ticked id of another shop: as if it did not exist
        ready, skipped = [], []
        for after_sale in candidates:
            after_sale.shown_version = versions[after_sale.pk]
            blocker = self.blocker(after_sale)
            (skipped if blocker else ready).append((after_sale, blocker))
        context = {
            "ready": [after_sale for after_sale, _blocker in ready],
            "skipped": skipped,
            "query": query,
            "back": back,
            "refund_total": sum((a.amount - a.refunded_amount for a, _b in ready), start=0),
            **self.extra_context(),
        }
        return render(request, self.template_name, context)


class BulkRejectSignedPreviewView(BulkPreviewView):
    """The signed-for ones will be rejected with their timelines; the others are listed with the reason."""

    template_name = "aftersales/bulk_reject_preview.html"

    def blocker(self, after_sale) -> str | None:
        blocker = rules.signed_reject_blocker(services.action_facts(after_sale))
        if blocker is None and after_sale.signed_at is None:
            return _("the parcel's tracking holds no signature event to show")
        return blocker

    def extra_context(self) -> dict:
        return {"form": BulkRejectSignedForm(initial={"send_card": True})}


class BulkRefundReturnedPreviewView(BulkPreviewView):
    """The ones whose parcel came back will be refunded; the others are listed with the reason."""

    template_name = "aftersales/bulk_refund_preview.html"

    def blocker(self, after_sale) -> str | None:
        return rules.returned_refund_blocker(services.action_facts(after_sale))


class BulkStartView(MerchantRequiredMixin, View):
    """The confirmation: record the job and show its progress. A subclass names its form and service."""

    permission_set = PermissionSet.AFTERSALES
    http_method_names = ["post", "options"]
    form_class = BulkSelectionForm

    def start(self, data: dict, **kwargs):
        raise NotImplementedError

    def post(self, request):
        query = filters.filter_query(QueryDict(request.POST.get("query", "")))
        form = self.form_class(request.POST)
        if not form.is_valid():
            messages.error(request, form_errors_message(form))
            return redirect(workbench_url(QueryDict(query)))
        try:
            data = form.cleaned_data
            job = self.start(data, shop=self.shop, user=request.user, versions=data["versions"], query=query)
        except NotFound:
            raise Http404 from None
        except DomainError as error:
            messages.error(request, error.message)
            return redirect(workbench_url(QueryDict(query)))
        return redirect("aftersales:bulk-job", pk=job.pk)


class BulkRejectSignedStartView(BulkStartView):
    form_class = BulkRejectSignedForm

    def start(self, data, **kwargs):
        return bulk.start_reject_signed(send_card=data["send_card"], note=data["note"], **kwargs)


class BulkRefundReturnedStartView(BulkStartView):
    def start(self, data, **kwargs):
        return bulk.start_refund_returned(**kwargs)


class BulkJobView(MerchantRequiredMixin, DetailView):
    """A bulk job's progress and, row by row, what was done or why not."""

    template_name = "aftersales/bulk_job.html"
    context_object_name = "job"

    def get_queryset(self):
        return selectors.bulk_jobs_for_shop(shop=self.shop)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        job = self.object
        rows = selectors.bulk_job_rows(job=job)
        done = sum(row.ok for row in rows)
        context.update(
            rows=rows,
            total=len(job.versions),
            done=done,
            failed=len(rows) - done,
            waiting=len(job.versions) - len(rows),
            running=job.status != BulkJob.Status.DONE,
            back=workbench_url(QueryDict(job.query)),
        )
        return context


class TimelineImageView(MerchantRequiredMixin, View):
    """The image of an after-sale's parcel timeline as it would be attached now (a preview)."""

    http_method_names = ["get", "head", "options"]

    def get(self, request, after_sale_no):
        after_sale = get_object_or_404(selectors.after_sales_for_shop(shop=self.shop), after_sale_no=after_sale_no)
        if after_sale.parcel is None:
            raise Http404
        png = bulk.timeline_image(after_sale, after_sale.parcel, at=timezone.now())
        response = HttpResponse(png, content_type="image/png")
        response["Cache-Control"] = "private, no-store"
        response["X-Content-Type-Options"] = "nosniff"
        return response
