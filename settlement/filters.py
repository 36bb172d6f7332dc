"""Filters of the fee ledger (and of the operators' payable page), and the month field the statement filters share.

The ledger is one grouped query, not a list of rows: its filters are a plain form that hands the
selector a `FeeFilters`. They check input only; the selector reads.
"""

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from interception.models import ServiceOrder
from shop.models import Courier

from .selectors import FeeFilters

MONTH_FORMAT = "%Y-%m"


class MonthInput(forms.DateInput):
    input_type = "month"

    def __init__(self, attrs=None):
        super().__init__(attrs=attrs, format=MONTH_FORMAT)


class MonthField(forms.DateField):
    """A calendar month typed as YYYY-MM (the browser's month picker); cleaned to its first day."""

    widget = MonthInput
    input_formats = [MONTH_FORMAT]
    default_error_messages = {"invalid": _("Enter a month as YYYY-MM.")}


def _check_month_range(month_from, month_to):
    if month_from and month_to and month_from > month_to:
        raise ValidationError(_("The first month must not be after the last month."))


class FeeFilterForm(forms.Form):
    """GET filters of the fee ledger (and of the operators' payable page, without the mode)."""

    month_from = MonthField(label=_("From month"), required=False)
    month_to = MonthField(label=_("To month"), required=False)
    courier = forms.ModelChoiceField(
        label=_("Courier"), queryset=Courier.objects.order_by("code"), to_field_name="code", required=False
    )
    mode = forms.ChoiceField(
        label=_("Settlement mode"), choices=[("", "---------"), *ServiceOrder.Mode.choices], required=False
    )

    def __init__(self, *args, with_mode: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        if not with_mode:
            del self.fields["mode"]

    def clean(self):
        data = super().clean()
        _check_month_range(data.get("month_from"), data.get("month_to"))
        return data

    def filters(self) -> FeeFilters:
        """The valid filters (none when the form is unbound or invalid: the page then says why)."""
        if not self.is_bound or not self.is_valid():
            return FeeFilters()
        data = self.cleaned_data
        return FeeFilters(
            month_from=data["month_from"],
            month_to=data["month_to"],
            courier=data["courier"],
            mode=data.get("mode", ""),
        )
