from datetime import timedelta

from django.db.models import Count, Q, Sum
from django.utils import timezone
from django.views.generic import TemplateView

from shop.access import MerchantRequiredMixin

from ..batches import batch_progress, batch_service_orders, batches_for_shop
from ..models import FeeCharge, ServiceOrder


class InterceptionHomeView(MerchantRequiredMixin, TemplateView):
    """The interception overview: the last 7 days' results and fees, and the latest batches."""

    template_name = "interception/home.html"
    RECENT_BATCHES = 10

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        since = timezone.now() - timedelta(days=7)
        S = ServiceOrder.Status
        context["week"] = ServiceOrder.objects.filter(shop=self.shop, created_at__gte=since).aggregate(
            launched=Count("id"),
            succeeded=Count("id", filter=~Q(status__in=[S.SUBMITTED, S.PROCESSING, S.FAILED])),
            failed=Count("id", filter=Q(status=S.FAILED)),
            pending=Count("id", filter=Q(status__in=[S.SUBMITTED, S.PROCESSING])),
        )
        context["week_fees"] = FeeCharge.objects.filter(shop=self.shop, charged_at__gte=since).aggregate(
            online=Sum("amount", filter=Q(mode="online")), offline=Sum("amount", filter=Q(mode="offline"))
        )
        batches = list(batches_for_shop(shop=self.shop).select_related("created_by")[: self.RECENT_BATCHES])
        context["batches"] = [
            (batch, batch_progress(batch=batch, orders=batch_service_orders(batch=batch))) for batch in batches
        ]
        return context
