from datetime import timedelta

import django_filters
from django import forms
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .localtime import start_of_day
from .models import Courier, Order, Parcel
from .selectors import parcel_exists


class OrderFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(
        label=_("Search"),
        method="filter_search",
        widget=forms.TextInput(attrs={"placeholder": _("Order no., tracking no. or buyer")}),
    )
    status = django_filters.ChoiceFilter(label=_("Order status"), choices=Order.Status.choices)
    courier = django_filters.ModelChoiceFilter(
        label=_("Courier"), queryset=Courier.objects.all(), method="filter_courier", to_field_name="code"
    )
    parcel_status = django_filters.ChoiceFilter(
        label=_("Parcel status"), choices=Parcel.Status.choices, method="filter_parcel_status"
    )
    paid_from = django_filters.DateFilter(
        label=_("Paid from"), method="filter_paid_from", widget=forms.DateInput(attrs={"type": "date"})
    )
    paid_to = django_filters.DateFilter(
        label=_("Paid to"), method="filter_paid_to", widget=forms.DateInput(attrs={"type": "date"})
    )

    class Meta:
        model = Order
        fields = ["q", "status", "courier", "parcel_status", "paid_from", "paid_to"]

    def filter_search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(order_no=value)
            | Q(buyer__external_id=value)
            | Q(buyer__nickname__icontains=value)
            | parcel_exists(tracking_no=value)
        )

    def filter_courier(self, queryset, name, value):
        return queryset.filter(parcel_exists(courier=value))

    def filter_parcel_status(self, queryset, name, value):
        return queryset.filter(parcel_exists(status=value))

    def filter_paid_from(self, queryset, name, value):
        return queryset.filter(paid_at__gte=start_of_day(value))

    def filter_paid_to(self, queryset, name, value):
        return queryset.filter(paid_at__lt=start_of_day(value + timedelta(days=1)))
