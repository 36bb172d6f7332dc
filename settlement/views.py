"""The settlement area's home (where the fee ledger, the statements and the claims are) and the merchant's
interception fee ledger: fees by month, courier and settlement mode, with totals."""

from django.views.generic import TemplateView

from shop.access import MerchantRequiredMixin
from shop.permissions import PermissionSet

from . import selectors
from .filters import FeeFilterForm
from .statements import selectors as statement_selectors
from .statements.rules import current_month


class SettlementHomeView(MerchantRequiredMixin, TemplateView):
    permission_set = PermissionSet.SETTLEMENT
    template_name = "settlement/home.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        month = current_month()
        ledger = selectors.fee_ledger_for_shop(shop=self.shop, filters=selectors.FeeFilters(month_from=month))
        counts = statement_selectors.statement_counts_for_shop(shop=self.shop)
        context.update(month=month, month_fees=ledger.by_mode(), statement_counts=counts)
        return context


class FeeLedgerView(MerchantRequiredMixin, TemplateView):
    """One grouped query over the shop's fee charges; invalid filters show their errors and no rows."""

    permission_set = PermissionSet.SETTLEMENT

    template_name = "settlement/fees.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        form = FeeFilterForm(self.request.GET or None)
        ledger = selectors.fee_ledger_for_shop(shop=self.shop, filters=form.filters())
        if form.is_bound and not form.is_valid():
            ledger = selectors.FeeLedger()
        context.update(form=form, ledger=ledger)
        return context
