"""One FilterSet per list page: the merchant's service-order query and the outlet's service orders."""

from datetime import timedelta

import django_filters
from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from shop.localtime import start_of_day
from shop.models import Courier, Outlet, Shop

from .models import ServiceOrder
from .selectors import service_orders_for_shop, shops_for_outlet


class ServiceOrderFilter(django_filters.FilterSet):
    """The merchant's service-order query (服务单查询): the list page and its exports filter the same way."""

    q = django_filters.CharFilter(
        label=_("Tracking or after-sale no."),
        method="filter_search",
        widget=forms.TextInput(attrs={"placeholder": _("Tracking or after-sale no.")}),
    )
    mode = django_filters.ChoiceFilter(label=_("Settlement"), choices=ServiceOrder.Mode.choices)
    courier = django_filters.ModelChoiceFilter(
        label=_("Courier"), queryset=Courier.objects.all(), to_field_name="code", field_name="courier"
    )
    outlet = django_filters.ModelChoiceFilter(
        label=_("Outlet"), queryset=Outlet.objects.all(), to_field_name="code", field_name="outlet"
    )
    status = django_filters.ChoiceFilter(label=_("Status"), choices=ServiceOrder.Status.choices)
    via = django_filters.ChoiceFilter(label=_("Launched via"), choices=ServiceOrder.Via.choices)
    launched_from = django_filters.DateFilter(
        label=_("Launched from"), method="filter_from", widget=forms.DateInput(attrs={"type": "date"})
    )
    launched_to = django_filters.DateFilter(
        label=_("Launched to"), method="filter_to", widget=forms.DateInput(attrs={"type": "date"})
    )

    class Meta:
        model = ServiceOrder
        fields = ["q", "mode", "courier", "outlet", "status", "via", "launched_from", "launched_to"]

    def filter_search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        # A union of two index lookups: an OR across the joins would read every parcel and after-sale.
        by_tracking_no = ServiceOrder.objects.filter(parcel__tracking_no=value).order_by().values("pk")
        by_after_sale_no = ServiceOrder.objects.filter(after_sale__after_sale_no=value).order_by().values("pk")
        return queryset.filter(pk__in=by_tracking_no.union(by_after_sale_no))

    def filter_from(self, queryset, name, value):
        return queryset.filter(created_at__gte=start_of_day(value))

    def filter_to(self, queryset, name, value):
        return queryset.filter(created_at__lt=start_of_day(value + timedelta(days=1)))


def filtered_service_orders(*, shop: Shop, data) -> QuerySet[ServiceOrder]:
    """The shop's service orders under the query's filters, newest first (the exports' rows).

    Invalid filters match nothing rather than everything, like the list page.
    """
    filterset = ServiceOrderFilter(data, queryset=service_orders_for_shop(shop=shop))
    return filterset.qs.order_by("-created_at", "-id") if filterset.is_valid() else filterset.queryset.none()


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
