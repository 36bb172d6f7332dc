"""The merchant's offline statements: list, detail, payment, reissue, exports, reconciliation."""

import tempfile

import django_tables2 as tables
from django.contrib import messages
from django.http import FileResponse, Http404, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy, ngettext
from django.views import View
from django.views.generic import DetailView
from django_filters.views import FilterView

from interception.tables import shanghai
from interception.views.partnerships import form_errors_message
from shop import pagination, streaming
from shop.access import MerchantRequiredMixin
from shop.errors import DomainError, NotFound

from .. import selectors, statements
from ..forms import BILL_UPLOAD, BillUploadForm, RecordPaymentForm, ReissueStatementForm, StatementFilter
from ..models import Reconciliation, ReconciliationRow, Statement, StatementLine

ST = Statement.Status


# --- tables ----------------------------------------------------------------------------------------


def statement_badge(status: str, label) -> str:
    return format_html('<span class="badge badge-stmt-{}">{}</span>', status, label)


class StatementTable(tables.Table):
    """The merchant's statements (the outlet's table drops the outlet and adds the shop)."""

    month = tables.Column(verbose_name=gettext_lazy("Month"))
    outlet = tables.Column(verbose_name=gettext_lazy("Outlet"), order_by=("outlet__code",))
    line_count = tables.Column(verbose_name=gettext_lazy("Interceptions"), attrs={"td": {"class": "num"}})
    total = tables.Column(verbose_name=gettext_lazy("Total (yuan)"), attrs={"td": {"class": "num"}})
    status = tables.Column(verbose_name=gettext_lazy("Status"))
    issued_at = tables.Column(verbose_name=gettext_lazy("Issued at"))
    detail_url_name = "settlement:statement-detail"

    class Meta:
        model = Statement
        fields = ("month", "outlet", "line_count", "total", "status", "issued_at")
        order_by = ("-month",)
        attrs = {"class": "table", "id": "statements"}
        row_attrs = {"data-statement": lambda record: record.pk, "data-status": lambda record: record.status}

    def render_month(self, record):
        url = reverse(self.detail_url_name, kwargs={"pk": record.pk})
        return format_html('<a href="{}">{}</a>', url, f"{record.month:%Y-%m}")

    def render_outlet(self, value):
        return f"{value.code} {value.name}"

    def render_total(self, value):
        return f"{value:,.2f}"

    def render_status(self, record):
        return statement_badge(record.status, record.get_status_display())

    def render_issued_at(self, value):
        return shanghai(value)


class StatementLineTable(tables.Table):
    service_order = tables.Column(verbose_name=gettext_lazy("Service order"), orderable=False)
    tracking_no = tables.Column(verbose_name=gettext_lazy("Tracking no."), orderable=False)
    succeeded_at = tables.Column(verbose_name=gettext_lazy("Intercepted at"), orderable=False)
    amount = tables.Column(verbose_name=gettext_lazy("Fee (yuan)"), attrs={"td": {"class": "num"}}, orderable=False)

    class Meta:
        model = StatementLine
        fields = ("service_order", "tracking_no", "succeeded_at", "amount")
        attrs = {"class": "table", "id": "statement-lines"}

    def render_service_order(self, record):
        return f"SO{record.service_order_id:08d}"

    def render_succeeded_at(self, value):
        return shanghai(value)

    def render_amount(self, value):
        return f"{value:,.2f}"


def lines_table(request, statement: Statement) -> StatementLineTable:
    table = StatementLineTable(selectors.statement_lines(statement=statement))
    pagination.paginate_table(table, request, per_page=100)
    return table


# --- exports (both sides) --------------------------------------------------------------------------

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
        yield [f"SO{service_order_id:08d}", tracking_no, shanghai(succeeded_at, "%Y-%m-%d %H:%M:%S"), amount]


def export_name(statement: Statement, extension: str) -> str:
    return f"statement-{statement.shop.code}-{statement.outlet.code}-{statement.month:%Y-%m}.{extension}"


def csv_response(statement: Statement) -> StreamingHttpResponse:
    """The lines as CSV, streamed (memory stays flat), with a BOM so spreadsheet programs read UTF-8."""
    rows = ([*row[:3], f"{row[3]:.2f}"] for row in export_rows(statement))
    return streaming.csv_response(filename=export_name(statement, "csv"), header=EXPORT_HEADER, rows=rows)


def xlsx_response(statement: Statement) -> FileResponse:
    """The lines as XLSX, written in openpyxl's write-only mode to a temporary file (fees as numbers)."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(f"{statement.month:%Y-%m}")
    sheet.append([str(label) for label in EXPORT_HEADER])
    for row in export_rows(statement):
        sheet.append(row)
    handle = tempfile.TemporaryFile()
    workbook.save(handle)
    handle.seek(0)
    return FileResponse(handle, as_attachment=True, filename=export_name(statement, "xlsx"))


# --- merchant pages --------------------------------------------------------------------------------


class StatementListView(MerchantRequiredMixin, pagination.PagedTableMixin, FilterView):
    template_name = "settlement/statement_list.html"
    table_class = StatementTable
    filterset_class = StatementFilter
    table_pagination = {"per_page": 25}

    def get_queryset(self):
        return selectors.statements_for_shop(shop=self.shop)

    def get_filterset_kwargs(self, filterset_class):
        return {**super().get_filterset_kwargs(filterset_class), "shop": self.shop}


class StatementRefreshView(MerchantRequiredMixin, View):
    """POST: bring the running month's statements up to date with the latest offline interceptions."""

    http_method_names = ["post", "options"]

    def post(self, request):
        count = statements.refresh_current_statements(shop=self.shop)
        messages.success(
            request,
            ngettext(
                "%(count)d statement of this month is up to date.",
                "%(count)d statements of this month are up to date.",
                count,
            )
            % {"count": count},
        )
        return redirect("settlement:statements")


class StatementDetailView(MerchantRequiredMixin, DetailView):
    """One statement: facts, actions, lines, reconciliations, history. Another shop's is a 404."""

    template_name = "settlement/statement_detail.html"
    context_object_name = "statement"

    def get_queryset(self):
        return selectors.statement_detail_for_shop(shop=self.shop)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        statement = self.object
        context.update(
            lines=lines_table(self.request, statement),
            pay_form=RecordPaymentForm(initial={"amount": statement.total})
            if statement.status == ST.CONFIRMED
            else None,
            reissue_form=ReissueStatementForm() if statement.status == ST.DISPUTED else None,
            bill_form=BillUploadForm(),
            reconciliations=statement.reconciliations.select_related("uploaded_by")[:10],
        )
        return context


class StatementCsvView(MerchantRequiredMixin, View):
    def get(self, request, pk):
        return csv_response(get_object_or_404(selectors.statements_for_shop(shop=self.shop), pk=pk))


class StatementXlsxView(MerchantRequiredMixin, View):
    def get(self, request, pk):
        return xlsx_response(get_object_or_404(selectors.statements_for_shop(shop=self.shop), pk=pk))


class _StatementActionView(MerchantRequiredMixin, View):
    """POST only (login and role checks first): one form, one service call, back to the statement."""

    http_method_names = ["post", "options"]
    form_class: type
    success_message = ""

    def post(self, request, pk):
        statement = get_object_or_404(selectors.statements_for_shop(shop=self.shop), pk=pk)
        form = self.form_class(request.POST, request.FILES)
        if not form.is_valid():
            messages.error(request, form_errors_message(form))
            return redirect(statement_url(statement))
        try:
            self.act(statement, form.cleaned_data)
        except NotFound:
            raise Http404 from None
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, self.success_message)
        return redirect(statement_url(statement))

    def act(self, statement: Statement, data: dict) -> None:
        raise NotImplementedError


def statement_url(statement: Statement) -> str:
    return reverse("settlement:statement-detail", kwargs={"pk": statement.pk})


class StatementPaymentView(_StatementActionView):
    form_class = RecordPaymentForm
    success_message = gettext_lazy("The payment was recorded: the statement is settled.")

    def act(self, statement, data):
        statements.record_payment(
            statement_id=statement.pk,
            shop=self.shop,
            user=self.request.user,
            reference=data["reference"],
            amount=data["amount"],
        )


class StatementReissueView(_StatementActionView):
    form_class = ReissueStatementForm
    success_message = gettext_lazy("The statement was sent back to the outlet to confirm.")

    def act(self, statement, data):
        statements.reissue_statement(statement_id=statement.pk, shop=self.shop, user=self.request.user, **data)


class StatementReconcileView(MerchantRequiredMixin, View):
    """POST the outlet's bill: a bad file gets its messages and nothing is kept; a good one its result page."""

    http_method_names = ["post", "options"]
    upload_limit = BILL_UPLOAD

    def post(self, request, pk):
        statement = get_object_or_404(selectors.statements_for_shop(shop=self.shop), pk=pk)
        form = BillUploadForm(request.POST, request.FILES)
        if not form.is_valid():
            name = request.FILES["bill"].name if "bill" in request.FILES else ""
            for error in form.errors.get("bill", []):
                messages.error(request, f"{name}: {error}" if name else error)
            return redirect(f"{statement_url(statement)}#reconcile")
        try:
            record = statements.reconcile_statement(
                statement_id=statement.pk,
                shop=self.shop,
                user=request.user,
                file_name=form.cleaned_data["bill"].name,
                bill_lines=form.cleaned_data["lines"],
            )
        except NotFound:
            raise Http404 from None
        return redirect("settlement:reconciliation-detail", pk=record.pk)


# --- reconciliation results ------------------------------------------------------------------------


class ReconciliationRowTable(tables.Table):
    kind = tables.Column(verbose_name=gettext_lazy("Result"), orderable=False)
    tracking_no = tables.Column(verbose_name=gettext_lazy("Tracking no."), orderable=False)
    bill_line = tables.Column(verbose_name=gettext_lazy("Bill line"), orderable=False)
    billed_fee = tables.Column(verbose_name=gettext_lazy("Billed fee"), attrs={"td": {"class": "num"}}, orderable=False)
    our_fee = tables.Column(verbose_name=gettext_lazy("Our fee"), attrs={"td": {"class": "num"}}, orderable=False)

    class Meta:
        model = ReconciliationRow
        fields = ("kind", "tracking_no", "bill_line", "billed_fee", "our_fee")
        attrs = {"class": "table", "id": "reconciliation-rows"}
        row_attrs = {"data-kind": lambda record: record.kind}

    def render_kind(self, record):
        return format_html('<span class="badge badge-recon-{}">{}</span>', record.kind, record.get_kind_display())

    def render_billed_fee(self, value):
        return f"{value:,.2f}"

    def render_our_fee(self, value):
        return f"{value:,.2f}"


class ReconciliationDetailView(MerchantRequiredMixin, DetailView):
    """The result of one bill: figures per kind, then the rows (differences first; ?kind= narrows)."""

    template_name = "settlement/reconciliation_detail.html"
    context_object_name = "reconciliation"

    def get_queryset(self):
        return selectors.reconciliations_for_shop(shop=self.shop)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        kind = self.request.GET.get("kind", "")
        kind = kind if kind in ReconciliationRow.Kind.values else ""
        rows = selectors.reconciliation_rows(reconciliation=self.object, differences_only=not kind)
        if kind:
            rows = rows.filter(kind=kind)
        table = ReconciliationRowTable(rows)
        pagination.paginate_table(table, self.request, per_page=100)
        summary = self.object.summary or {}
        kinds = summary.get("kinds", {})
        context.update(
            kind=kind,
            rows=table,
            summary=summary,
            kinds=[
                {"kind": value, "label": label, **kinds.get(value, {"count": 0, "billed": "0.00", "ours": "0.00"})}
                for value, label in ReconciliationRow.Kind.choices
            ],
        )
        return context


DIFFERENCES_HEADER = (
    gettext_lazy("Result"),
    gettext_lazy("Tracking no."),
    gettext_lazy("Bill line"),
    gettext_lazy("Billed fee"),
    gettext_lazy("Our fee"),
    gettext_lazy("Difference"),
)


class ReconciliationCsvView(MerchantRequiredMixin, View):
    """Every row that is not a match, streamed as CSV: what to take up with the outlet."""

    def get(self, request, pk):
        record: Reconciliation = get_object_or_404(selectors.reconciliations_for_shop(shop=self.shop), pk=pk)
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
