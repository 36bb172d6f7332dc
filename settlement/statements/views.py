"""Statement pages: the merchant's list, detail, payment, reissue, exports and reconciliation; the outlet
portal's statements (its own only, from the month they are issued): confirm, dispute, export.

Each POST view is one form and one service call; a refusal becomes a message.
"""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.translation import gettext_lazy, ngettext
from django.views import View
from django.views.generic import DetailView
from django_filters.views import FilterView

from shop import pagination
from shop.access import MerchantRequiredMixin, OutletStaffRequiredMixin
from shop.errors import DomainError, NotFound
from shop.permissions import PermissionSet
from shop.views import form_errors_message

from . import selectors
from . import services as statements
from .exports import csv_response, differences_csv_response, xlsx_response
from .filters import OutletStatementFilter, StatementFilter
from .forms import (
    BILL_UPLOAD,
    BillUploadForm,
    ConfirmStatementForm,
    DisputeStatementForm,
    RecordPaymentForm,
    ReissueStatementForm,
)
from .models import ReconciliationRow, Statement
from .tables import OutletStatementTable, ReconciliationRowTable, StatementLineTable, StatementTable

ST = Statement.Status


def lines_table(request, statement: Statement) -> StatementLineTable:
    table = StatementLineTable(selectors.statement_lines(statement=statement))
    pagination.paginate_table(table, request, per_page=100)
    return table


# --- merchant pages --------------------------------------------------------------------------------


class StatementListView(MerchantRequiredMixin, pagination.PagedTableMixin, FilterView):
    permission_set = PermissionSet.SETTLEMENT
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

    permission_set = PermissionSet.SETTLEMENT

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

    permission_set = PermissionSet.SETTLEMENT

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
    permission_set = PermissionSet.SETTLEMENT

    def get(self, request, pk):
        return csv_response(get_object_or_404(selectors.statements_for_shop(shop=self.shop), pk=pk))


class StatementXlsxView(MerchantRequiredMixin, View):
    permission_set = PermissionSet.SETTLEMENT

    def get(self, request, pk):
        return xlsx_response(get_object_or_404(selectors.statements_for_shop(shop=self.shop), pk=pk))


class _StatementActionView(MerchantRequiredMixin, View):
    """POST only (login and role checks first): one form, one service call, back to the statement."""

    permission_set = PermissionSet.SETTLEMENT

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

    permission_set = PermissionSet.SETTLEMENT

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


class ReconciliationDetailView(MerchantRequiredMixin, DetailView):
    """The result of one bill: figures per kind, then the rows (differences first; ?kind= narrows)."""

    permission_set = PermissionSet.SETTLEMENT

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


class ReconciliationCsvView(MerchantRequiredMixin, View):
    """Every row that is not a match, streamed as CSV: what to take up with the outlet."""

    permission_set = PermissionSet.SETTLEMENT

    def get(self, request, pk):
        return differences_csv_response(get_object_or_404(selectors.reconciliations_for_shop(shop=self.shop), pk=pk))


# --- the outlet portal ----------------------------------------------------------------------------


class OutletStatementListView(OutletStaffRequiredMixin, pagination.PagedTableMixin, FilterView):
    permission_set = PermissionSet.OUTLET_SETTLEMENT
    template_name = "settlement/outlet_statement_list.html"
    table_class = OutletStatementTable
    filterset_class = OutletStatementFilter
    table_pagination = {"per_page": 25}

    def get_queryset(self):
        return selectors.statements_for_outlet(outlet=self.outlet)

    def get_filterset_kwargs(self, filterset_class):
        return {**super().get_filterset_kwargs(filterset_class), "outlet": self.outlet}


class OutletStatementDetailView(OutletStaffRequiredMixin, DetailView):
    """One issued statement of the outlet, with its lines and history; confirm or dispute while issued."""

    permission_set = PermissionSet.OUTLET_SETTLEMENT

    template_name = "settlement/outlet_statement_detail.html"
    context_object_name = "statement"

    def get_queryset(self):
        return selectors.statement_detail_for_outlet(outlet=self.outlet)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        answerable = self.object.status == Statement.Status.ISSUED
        context.update(
            lines=lines_table(self.request, self.object),
            confirm_form=ConfirmStatementForm() if answerable else None,
            dispute_form=DisputeStatementForm() if answerable else None,
        )
        return context


class OutletStatementCsvView(OutletStaffRequiredMixin, View):
    permission_set = PermissionSet.OUTLET_SETTLEMENT

    def get(self, request, pk):
        return csv_response(get_object_or_404(selectors.statements_for_outlet(outlet=self.outlet), pk=pk))


class OutletStatementXlsxView(OutletStaffRequiredMixin, View):
    permission_set = PermissionSet.OUTLET_SETTLEMENT

    def get(self, request, pk):
        return xlsx_response(get_object_or_404(selectors.statements_for_outlet(outlet=self.outlet), pk=pk))


class _OutletAnswerView(OutletStaffRequiredMixin, View):
    """POST only (login and role checks first): one form, one service call, back to the statement."""

    permission_set = PermissionSet.OUTLET_SETTLEMENT

    http_method_names = ["post", "options"]
    form_class: type
    service: staticmethod
    success_message = ""

    def post(self, request, pk):
        statement = get_object_or_404(selectors.statements_for_outlet(outlet=self.outlet), pk=pk)
        url = reverse("outlet:statement-detail", kwargs={"pk": statement.pk})
        form = self.form_class(request.POST)
        if not form.is_valid():
            messages.error(request, form_errors_message(form))
            return redirect(url)
        try:
            self.service(statement_id=statement.pk, outlet=self.outlet, user=request.user, **form.cleaned_data)
        except NotFound:
            raise Http404 from None
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, self.success_message)
        return redirect(url)


class OutletStatementConfirmView(_OutletAnswerView):
    form_class = ConfirmStatementForm
    service = staticmethod(statements.confirm_statement)
    success_message = gettext_lazy("Confirmed: the shop can now settle the statement.")


class OutletStatementDisputeView(_OutletAnswerView):
    form_class = DisputeStatementForm
    service = staticmethod(statements.dispute_statement)
    success_message = gettext_lazy("Disputed: the shop sees your note.")
