from django.views.generic import TemplateView

from shop.access import MerchantRequiredMixin


class SettlementHomeView(MerchantRequiredMixin, TemplateView):
    template_name = "settlement/home.html"
