from datetime import timedelta

from django.utils import timezone
from django.views.generic import TemplateView

from shop.access import MerchantRequiredMixin

from .. import selectors


class InterceptionHomeView(MerchantRequiredMixin, TemplateView):
    """The interception overview: the last 7 days' results and fees, and the latest batches."""

    template_name = "interception/home.html"
    RECENT_BATCHES = 10

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        since = timezone.now() - timedelta(days=7)
        context.update(selectors.week_summary(shop=self.shop, since=since))
        context["batches"] = selectors.recent_batches_with_progress(shop=self.shop, limit=self.RECENT_BATCHES)
        return context
