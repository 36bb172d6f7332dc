"""The settlement area's home: where the fee ledger, the statements and the claims are."""

from django.views.generic import TemplateView

from shop.access import MerchantRequiredMixin

from .. import selectors
from ..statements import current_month


class SettlementHomeView(MerchantRequiredMixin, TemplateView):
    template_name = "settlement/home.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        month = current_month()
        ledger = selectors.fee_ledger_for_shop(shop=self.shop, filters=selectors.FeeFilters(month_from=month))
        counts = selectors.statement_counts_for_shop(shop=self.shop)
        context.update(month=month, month_fees=ledger.by_mode(), statement_counts=counts)
        return context
