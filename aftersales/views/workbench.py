"""The workbench (the merchant's home), its bulk flag and remark, and its exports."""

from django.contrib import messages
from django.http import FileResponse, Http404, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import ngettext
from django.views import View
from django.views.generic import DetailView
from django_filters.views import FilterView
from django_tables2 import SingleTableMixin

from shop import keyset
from shop.access import MerchantRequiredMixin
from shop.errors import DomainError, NotFound
from shop.permissions import PermissionSet
from shop.views import PostActionView

from .. import exports, extensions, filters, selectors, services
from ..forms import BulkFlagForm
from ..models import ExportJob
from ..tables import WorkbenchTable, page_size


def workbench_url(params) -> str:
    """The workbench with the same filters, page and sort as the page the merchant came from."""
    url = reverse("aftersales:workbench")
    return f"{url}?{params.urlencode()}" if params else url


class WorkbenchView(MerchantRequiredMixin, SingleTableMixin, FilterView):
    """The merchant's home: every after-sale of the shop, what times out first on top."""

    filterset_class = filters.WorkbenchFilter
    template_name = "aftersales/workbench.html"

    def setup(self, request, *args, **kwargs):
        super().setup(request, *args, **kwargs)
        self.now = timezone.now()

    def get_queryset(self):
        return selectors.workbench_rows_for_shop(shop=self.shop)

    def get_filterset_kwargs(self, filterset_class):
        return {**super().get_filterset_kwargs(filterset_class), "now": self.now}

    def get_table(self, **kwargs):
        """One keyset page of the filtered rows: no COUNT(*) and no OFFSET, the same cost at any depth."""
        params = self.request.GET
        descending, per_page = params.get("sort") == "-deadline", page_size(params.get("per_page"))
        page = keyset.paginate(
            self.get_table_data(),
            field="deadline",
            descending=descending,
            per_page=per_page,
            after=keyset.Cursor.parse(params.get("after")),
            before=keyset.Cursor.parse(params.get("before")),
        )
        return WorkbenchTable(
            page.rows,
            page=page,
            per_page=per_page,
            order_by="-deadline" if descending else "deadline",
            shop=self.shop,
            now=self.now,
        )

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["quick_views"] = filters.quick_view_counts(
            self.get_queryset(), current_params=self.request.GET, now=self.now
        )
        context["bulk_form"] = BulkFlagForm()
        context["bulk_actions"] = extensions.bulk_actions
        context["filter_query"] = filters.filter_query(self.request.GET)
        return context


class QuickViewCountsView(MerchantRequiredMixin, View):
    """The quick views' counts up to 9999, asked for by the workbench once shown when a count stopped at 99+."""

    http_method_names = ["get", "head", "options"]

    def get(self, request):
        counts = filters.quick_view_counts(
            selectors.workbench_rows_for_shop(shop=self.shop),
            current_params=request.GET,
            now=timezone.now(),
            cap=filters.QUICK_VIEW_FULL_COUNT_CAP,
        )
        response = JsonResponse({item.view.key: item.display for item in counts})
        response["Cache-Control"] = "private, no-store"
        return response


class BulkFlagView(MerchantRequiredMixin, PostActionView):
    """Flag and/or remark the ticked after-sales, all or none: a stale row refuses the lot."""

    permission_set = PermissionSet.AFTERSALES

    form_class = BulkFlagForm

    def get_form(self):
        return self.form_class(self.request.POST)

    def form_invalid(self, form):
        messages.error(self.request, next(iter(form.errors.values()))[0])
        return redirect(self.get_success_url())

    def perform(self, obj, data):
        try:
            rows = services.flag_and_remark(
                shop=self.shop,
                user=self.request.user,
                versions=data["versions"],
                flag=data["flag"],
                remark=data["remark"],
            )
        except NotFound as missing:  # a row gone from the selection: said above the page, not a 404
            raise DomainError(missing.message) from None
        count = len(rows)
        return ngettext("%(count)d after-sale updated.", "%(count)d after-sales updated.", count) % {"count": count}

    def get_success_url(self):
        return workbench_url(self.request.GET)


class WorkbenchCsvView(MerchantRequiredMixin, View):
    """Exactly the rows the workbench lists for the same querystring, streamed as CSV."""

    permission_set = PermissionSet.AFTERSALES

    def get(self, request):
        now = timezone.now()
        rows = filters.filtered_after_sales(selectors.after_sales_for_shop(shop=self.shop), request.GET, now=now)
        response = StreamingHttpResponse(exports.csv_chunks(rows), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{exports.export_filename("csv", now)}"'
        return response


class ExportStartView(MerchantRequiredMixin, View):
    """Start an XLSX export of the filtered rows in the worker, then show its progress."""

    permission_set = PermissionSet.AFTERSALES

    def post(self, request):
        job = exports.start_xlsx_export(shop=self.shop, user=request.user, params=request.GET)
        return redirect("aftersales:export-detail", pk=job.pk)


class ExportDetailView(MerchantRequiredMixin, DetailView):
    permission_set = PermissionSet.AFTERSALES
    template_name = "aftersales/export_detail.html"
    context_object_name = "job"

    def get_queryset(self):
        return exports.jobs_for_shop(shop=self.shop)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        job = self.object
        context["running"] = job.status in (ExportJob.Status.QUEUED, ExportJob.Status.RUNNING)
        context["percent"] = min(100, job.rows_done * 100 // job.rows_total) if job.rows_total else 0
        context["workbench_url"] = reverse("aftersales:workbench") + (f"?{job.query}" if job.query else "")
        return context


class ExportDownloadView(MerchantRequiredMixin, View):
    permission_set = PermissionSet.AFTERSALES

    def get(self, request, pk):
        job = get_object_or_404(exports.jobs_for_shop(shop=self.shop), pk=pk, status=ExportJob.Status.DONE)
        if not job.file:
            raise Http404
        return FileResponse(job.file.open("rb"), as_attachment=True, filename=job.file.name.rsplit("/", 1)[-1])
