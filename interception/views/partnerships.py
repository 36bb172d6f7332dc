"""The merchant's outlet partnerships for offline settlement (承诺拦截·线下结算): list, apply, detail, end."""

from urllib.parse import urlencode

from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views import View
from django.views.generic import DetailView

from shop.access import MerchantRequiredMixin
from shop.errors import DomainError, NotFound
from shop.pagination import PagedTableView

from .. import partnerships, rules, selectors
from ..forms import CourierChoiceForm, EndPartnershipForm, PartnershipApplyForm
from ..models import Partnership
from ..tables import PartnershipTable


def form_errors_message(form) -> str:
    """One line naming each invalid field and why, for a message above the page."""
    parts = []
    for name, errors in form.errors.items():
        label = form.fields[name].label if name in form.fields else ""
        parts.append(f"{label}: {' '.join(errors)}" if label else " ".join(errors))
    return _("Nothing was done: %(errors)s") % {"errors": "; ".join(parts)}


class PartnershipListView(MerchantRequiredMixin, PagedTableView):
    """The shop's partnerships and the "open offline settlement" form.

    The form lists the outlets of the courier chosen with ?courier=CODE (a GET form: no JavaScript).
    """

    template_name = "interception/partnership_list.html"
    table_class = PartnershipTable
    table_pagination = {"per_page": 25}

    def get_queryset(self):
        return selectors.partnerships_for_shop(shop=self.shop)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        courier_form = CourierChoiceForm(self.request.GET if "courier" in self.request.GET else None)
        courier = courier_form.cleaned_data["courier"] if courier_form.is_valid() else None
        context.update(
            courier_form=courier_form,
            courier=courier,
            apply_form=PartnershipApplyForm(initial={"courier": courier.code}, auto_id="id_apply_%s")
            if courier
            else None,
            outlet_choices=selectors.outlet_choices_for_shop(shop=self.shop, courier=courier) if courier else [],
        )
        return context


class PartnershipApplyView(MerchantRequiredMixin, View):
    """POST only; the login and role checks run first (anonymous visitors are sent to log in)."""

    http_method_names = ["post", "options"]

    def post(self, request):
        form = PartnershipApplyForm(request.POST)
        if not form.is_valid():
            messages.error(request, form_errors_message(form))
            return redirect(self._back(request.POST.get("courier", "")))
        data = form.cleaned_data
        try:
            created = partnerships.apply_for_partnerships(
                shop=self.shop,
                user=request.user,
                courier_code=data["courier"],
                outlet_ids=data["outlets"],
                fee=data["fee"],
            )
        except DomainError as error:
            messages.error(request, error.message)
            return redirect(self._back(data["courier"]))
        messages.success(request, self._success_message(created))
        return redirect("interception:partnerships")

    @staticmethod
    def _back(courier_code: str) -> str:
        url = reverse("interception:partnerships")
        return f"{url}?{urlencode({'courier': courier_code[:20]})}" if courier_code else url

    @staticmethod
    def _success_message(created: list[Partnership]) -> str:
        outlets = ", ".join(p.outlet.code for p in created)
        if all(p.status == Partnership.Status.ACTIVE for p in created):
            return ngettext(
                "Offline settlement with %(outlets)s is effective at once: this courier needs no outlet approval.",
                "Offline settlement with %(outlets)s is effective at once: this courier needs no outlet approval.",
                len(created),
            ) % {"outlets": outlets}
        return ngettext(
            "Applied to %(outlets)s: waiting for the outlet's approval.",
            "Applied to %(outlets)s: waiting for the outlets' approval.",
            len(created),
        ) % {"outlets": outlets}


class PartnershipDetailView(MerchantRequiredMixin, DetailView):
    """One partnership of the shop with its full history; another shop's is a 404."""

    template_name = "interception/partnership_detail.html"
    context_object_name = "partnership"

    def get_queryset(self):
        return selectors.partnership_detail_for_shop(shop=self.shop)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["can_end"] = self.object.status in Partnership.LIVE_STATUSES
        context["end_form"] = EndPartnershipForm(auto_id="id_end_%s")
        context["online_fee"] = rules.ONLINE_FEE
        return context


class PartnershipEndView(MerchantRequiredMixin, View):
    """POST only: the merchant ends a pending or active partnership, with an optional note."""

    http_method_names = ["post", "options"]

    def post(self, request, pk):
        partnership = get_object_or_404(selectors.partnerships_for_shop(shop=self.shop), pk=pk)
        form = EndPartnershipForm(request.POST)
        if not form.is_valid():
            messages.error(request, form_errors_message(form))
            return redirect("interception:partnership-detail", pk=partnership.pk)
        try:
            partnerships.end_partnership(
                partnership_id=partnership.pk, shop=self.shop, user=request.user, note=form.cleaned_data["note"]
            )
        except NotFound:
            raise Http404 from None
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(
                request, _("The partnership with %(outlet)s has ended.") % {"outlet": partnership.outlet.code}
            )
        return redirect("interception:partnership-detail", pk=partnership.pk)
