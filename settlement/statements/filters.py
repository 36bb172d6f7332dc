"""List filters of the statement pages: the merchant's and the outlet's (one FilterSet per list page)."""

import django_filters
from django.utils.translation import gettext_lazy as _

from ..filters import MONTH_FORMAT, MonthInput
from .models import Statement
from .selectors import outlets_of_shop_statements, shops_of_outlet_statements


class _StatementFilterBase(django_filters.FilterSet):
    month_from = django_filters.DateFilter(
        label=_("From month"), field_name="month", lookup_expr="gte", input_formats=[MONTH_FORMAT], widget=MonthInput
    )
    month_to = django_filters.DateFilter(
        label=_("To month"), field_name="month", lookup_expr="lte", input_formats=[MONTH_FORMAT], widget=MonthInput
    )


class StatementFilter(_StatementFilterBase):
    """The merchant's statements."""

    status = django_filters.ChoiceFilter(label=_("Status"), choices=Statement.Status.choices)
    outlet = django_filters.ModelChoiceFilter(
        label=_("Outlet"), queryset=Statement.objects.none(), to_field_name="code", field_name="outlet"
    )

    class Meta:
        model = Statement
        fields = ["status", "outlet", "month_from", "month_to"]

    def __init__(self, data=None, queryset=None, *, shop, **kwargs):
        super().__init__(data, queryset, **kwargs)
        self.filters["outlet"].queryset = outlets_of_shop_statements(shop=shop)


class OutletStatementFilter(_StatementFilterBase):
    """The outlet's statements."""

    status = django_filters.ChoiceFilter(
        label=_("Status"), choices=[(s, Statement.Status(s).label) for s in Statement.OUTLET_VISIBLE_STATUSES]
    )
    shop = django_filters.ModelChoiceFilter(label=_("Shop"), queryset=Statement.objects.none(), field_name="shop")

    class Meta:
        model = Statement
        fields = ["status", "shop", "month_from", "month_to"]

    def __init__(self, data=None, queryset=None, *, outlet, **kwargs):
        super().__init__(data, queryset, **kwargs)
        self.filters["shop"].queryset = shops_of_outlet_statements(outlet=outlet)
