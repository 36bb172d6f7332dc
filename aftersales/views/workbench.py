from django.views.generic import TemplateView

from shop.access import MerchantRequiredMixin


class WorkbenchView(MerchantRequiredMixin, TemplateView):
    """The merchant's home. Until the after-sales capability lands it says so and links to orders."""

    template_name = "aftersales/workbench.html"
