"""The merchant's outlet partnerships for offline settlement (承诺拦截·线下结算): list, apply, detail, end."""

from urllib.parse import urlencode

from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.generic import DetailView

from shop.access import MerchantRequiredMixin
from shop.pagination import PagedTableView
from shop.permissions import PermissionSet
from shop.views import PostActionView

from .. import rules, selectors, services
from ..forms import CourierChoiceForm, EndPartnershipForm, PartnershipApplyForm
from ..models import Partnership
from ..tables import PartnershipTable


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


class PartnershipApplyView(MerchantRequiredMixin, PostActionView):
    """POST only; the login and role checks run first (anonymous visitors are sent to log in)."""

    permission_set = PermissionSet.INTERCEPTION

    form_class = PartnershipApplyForm

    def perform(self, obj, data: dict) -> str:
        self.courier_code = data["courier"]
        created = services.apply_for_partnerships(
            shop=self.shop,
            user=self.request.user,
            courier_code=data["courier"],
            outlet_ids=data["outlets"],
            fee=data["fee"],
        )
        return self._success_message(created)

    def get_success_url(self) -> str:
        return reverse("interception:partnerships")

    def get_failure_url(self) -> str:
        # Back to the courier's outlets: the cleaned code after a refusal, the posted one after bad input.
        return self._back(getattr(self, "courier_code", self.request.POST.get("courier", "")))

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


class PartnershipEndView(MerchantRequiredMixin, PostActionView):
    """POST only: the merchant ends a pending or active partnership, with an optional note."""

    permission_set = PermissionSet.INTERCEPTION

    form_class = EndPartnershipForm

    def get_object(self):
        return get_object_or_404(selectors.partnerships_for_shop(shop=self.shop), pk=self.kwargs["pk"])

    def perform(self, partnership, data: dict) -> str:
        services.end_partnership(
            partnership_id=partnership.pk, shop=self.shop, user=self.request.user, note=data["note"]
        )
        return _("The partnership with %(outlet)s has ended.") % {"outlet": partnership.outlet.code}

    def get_success_url(self) -> str:
        return reverse("interception:partnership-detail", kwargs={"pk": self.object.pk})
