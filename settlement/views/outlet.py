"""The outlet portal's statements: its own only, from the month they are issued; confirm, dispute, export.

The URLs live in `interception/outlet_urls.py` with the rest of the portal (namespace "outlet").
"""

import django_tables2 as tables
from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.translation import gettext_lazy
from django.views import View
from django.views.generic import DetailView
from django_filters.views import FilterView

from interception.views.partnerships import form_errors_message
from shop.access import OutletStaffRequiredMixin
from shop.errors import DomainError, NotFound
from shop.pagination import PagedTableMixin

from .. import selectors, statements
from ..forms import ConfirmStatementForm, DisputeStatementForm, OutletStatementFilter
from ..models import Statement
from .statements import StatementTable, csv_response, lines_table, xlsx_response


class OutletStatementTable(StatementTable):
    shop = tables.Column(verbose_name=gettext_lazy("Shop"), accessor="shop__name", order_by=("shop__name",))
    answered_at = tables.Column(verbose_name=gettext_lazy("Answered at"))
    detail_url_name = "outlet:statement-detail"

    class Meta(StatementTable.Meta):
        fields = ("month", "shop", "line_count", "total", "status", "issued_at", "answered_at")
        exclude = ("outlet",)
        sequence = ("month", "shop", "line_count", "total", "status", "issued_at", "answered_at")

    def render_answered_at(self, value):
        return self.render_issued_at(value)


class OutletStatementListView(OutletStaffRequiredMixin, PagedTableMixin, FilterView):
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
    def get(self, request, pk):
        return csv_response(get_object_or_404(selectors.statements_for_outlet(outlet=self.outlet), pk=pk))


class OutletStatementXlsxView(OutletStaffRequiredMixin, View):
    def get(self, request, pk):
        return xlsx_response(get_object_or_404(selectors.statements_for_outlet(outlet=self.outlet), pk=pk))


class _OutletAnswerView(OutletStaffRequiredMixin, View):
    """POST only (login and role checks first): one form, one service call, back to the statement."""

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
