"""List filters of the claim pages (one FilterSet per list page; the outlet's list shares the merchant's)."""

import django_filters
from django.utils.translation import gettext_lazy

from .models import Claim


class ClaimFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(label=gettext_lazy("Status"), choices=Claim.Status.choices)

    class Meta:
        model = Claim
        fields = ["status"]


class TrackerFilter(django_filters.FilterSet):
    WINDOWS = (
        ("upcoming", gettext_lazy("not open yet")),
        ("open", gettext_lazy("open now")),
        ("closed", gettext_lazy("closed")),
    )
    window = django_filters.ChoiceFilter(label=gettext_lazy("Claim window"), choices=WINDOWS, method="filter_window")

    def filter_window(self, queryset, name, value):
        return queryset  # applied by the selector (it knows the window's bounds)
