from datetime import timedelta

import django_filters
from django import forms
from django.utils.translation import gettext_lazy as _

from shop.localtime import start_of_day
from shop.models import Shop

from .models import ServiceOrder
from .selectors import shops_for_outlet


class OutletServiceOrderFilter(django_filters.FilterSet):
    """The outlet's service orders: the list page and its CSV export filter the same way."""

    status = django_filters.ChoiceFilter(label=_("Status"), choices=ServiceOrder.Status.choices)
    mode = django_filters.ChoiceFilter(label=_("Settlement mode"), choices=ServiceOrder.Mode.choices)
    shop = django_filters.ModelChoiceFilter(label=_("Shop"), queryset=Shop.objects.none())
    launched_from = django_filters.DateFilter(
        label=_("Launched from"), method="filter_launched_from", widget=forms.DateInput(attrs={"type": "date"})
    )
    launched_to = django_filters.DateFilter(
        label=_("Launched to"), method="filter_launched_to", widget=forms.DateInput(attrs={"type": "date"})
    )
    tracking_no = django_filters.CharFilter(
        label=_("Tracking no."),
        method="filter_tracking_no",
        widget=forms.TextInput(attrs={"placeholder": _("Tracking no.")}),
    )

    class Meta:
        model = ServiceOrder
        fields = ["status", "mode", "shop", "launched_from", "launched_to", "tracking_no"]

    def __init__(self, data=None, queryset=None, *, outlet, **kwargs):
        super().__init__(data, queryset, **kwargs)
        # Only shops this outlet deals with: the choice list must not reveal the platform's other shops.
        self.filters["shop"].queryset = shops_for_outlet(outlet=outlet)

    def filter_launched_from(self, queryset, name, value):
        return queryset.filter(created_at__gte=start_of_day(value))

    def filter_launched_to(self, queryset, name, value):
        return queryset.filter(created_at__lt=start_of_day(value + timedelta(days=1)))

    def filter_tracking_no(self, queryset, name, value):
        value = value.strip()
        return queryset.filter(parcel__tracking_no=value) if value else queryset
