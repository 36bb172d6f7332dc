"""The outlet portal: staff of one courier outlet see and answer only their own outlet's business."""

from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy
from django.views import View
from django.views.generic import DetailView, TemplateView
from django_filters.views import FilterView

from shop import streaming
from shop.access import OutletStaffRequiredMixin
from shop.pagination import PagedTableMixin
from shop.permissions import PermissionSet
from shop.views import PostActionView

from .. import selectors, services
from ..filters import OutletServiceOrderFilter
from ..forms import ApprovePartnershipForm, RejectPartnershipForm
from ..models import Partnership
from ..tables import OutletServiceOrderTable, ServiceOrderCsv


def answer_forms(partnership: Partnership) -> dict:
    """The approve and reject forms of one pending application; ids carry its pk (several per page)."""
    return {
        "approve_form": ApprovePartnershipForm(auto_id=f"id_approve_{partnership.pk}_%s"),
        "reject_form": RejectPartnershipForm(auto_id=f"id_reject_{partnership.pk}_%s"),
    }


class OutletPortalView(OutletStaffRequiredMixin, TemplateView):
    """The outlet's home: its facts, pending applications to answer, active partnerships."""

    template_name = "interception/outlet_portal.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        pending = selectors.partnerships_for_outlet(outlet=self.outlet, statuses=[Partnership.Status.PENDING])
        context["pending"] = [{"partnership": p, **answer_forms(p)} for p in pending]
        context["active"] = selectors.partnerships_for_outlet(outlet=self.outlet, statuses=[Partnership.Status.ACTIVE])
        return context


class OutletPartnershipDetailView(OutletStaffRequiredMixin, DetailView):
    """One partnership of the outlet with its history; another outlet's is a 404."""

    template_name = "interception/outlet_partnership_detail.html"
    context_object_name = "partnership"

    def get_queryset(self):
        return selectors.partnership_detail_for_outlet(outlet=self.outlet)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        if self.object.status == Partnership.Status.PENDING:
            context.update(answer_forms(self.object))
        return context


class OutletPartnershipAnswerView(OutletStaffRequiredMixin, PostActionView):
    """POST only (login and role checks first): one form, one service call, back to the portal.

    The application is looked up within this outlet (and the service locks it within the outlet too):
    another outlet's is a 404, exactly like a missing one.
    """

    permission_set = PermissionSet.OUTLET_PARTNERSHIPS

    service: staticmethod

    def get_object(self):
        return get_object_or_404(selectors.partnerships_for_outlet(outlet=self.outlet), pk=self.kwargs["pk"])

    def perform(self, partnership, data: dict) -> None:
        self.service(partnership_id=partnership.pk, outlet=self.outlet, user=self.request.user, **data)

    def get_success_message(self) -> str:
        return self.success_message % {"shop": self.object.shop.name}

    def get_success_url(self) -> str:
        return reverse("outlet:portal")


class OutletPartnershipApproveView(OutletPartnershipAnswerView):
    form_class = ApprovePartnershipForm
    service = staticmethod(services.approve_partnership)
    success_message = gettext_lazy("Approved: offline settlement with %(shop)s is effective now.")


class OutletPartnershipRejectView(OutletPartnershipAnswerView):
    form_class = RejectPartnershipForm
    service = staticmethod(services.reject_partnership)
    success_message = gettext_lazy("The application of %(shop)s was rejected.")


class OutletServiceOrderListView(OutletStaffRequiredMixin, PagedTableMixin, FilterView):
    """The interception service orders of parcels sent from this outlet."""

    template_name = "interception/outlet_service_orders.html"
    table_class = OutletServiceOrderTable
    filterset_class = OutletServiceOrderFilter
    table_pagination = {"per_page": 25}

    def get_queryset(self):
        return selectors.service_orders_for_outlet(outlet=self.outlet)

    def get_filterset_kwargs(self, filterset_class):
        return {**super().get_filterset_kwargs(filterset_class), "outlet": self.outlet}


class OutletServiceOrderCsvView(OutletStaffRequiredMixin, View):
    """Exactly the rows the list shows under the same filters, streamed as CSV for reconciliation."""

    def get(self, request):
        filterset = OutletServiceOrderFilter(
            request.GET or None,
            queryset=selectors.service_orders_for_outlet(outlet=self.outlet),
            outlet=self.outlet,
            request=request,
        )
        # Like the list page (strict FilterView): invalid filters match nothing rather than everything.
        orders = filterset.qs if not filterset.is_bound or filterset.is_valid() else filterset.queryset.none()
        export = ServiceOrderCsv()
        filename = f"service-orders-{self.outlet.code}-{timezone.localdate():%Y%m%d}.csv"
        rows = (export.row(order) for order in orders.iterator(chunk_size=2000))
        return streaming.csv_response(filename=filename, header=export.header(), rows=rows)
