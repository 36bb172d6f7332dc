from django.views.generic import TemplateView

from shop.access import MerchantRequiredMixin, OutletStaffRequiredMixin


class InterceptionHomeView(MerchantRequiredMixin, TemplateView):
    template_name = "interception/home.html"


class OutletPortalView(OutletStaffRequiredMixin, TemplateView):
    """The outlet's home: its own outlet only."""

    template_name = "interception/outlet_portal.html"
