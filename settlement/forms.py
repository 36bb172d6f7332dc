"""Forms and list filters of the fee ledger, statement and reconciliation pages (claims have their own).

They check input only; the services decide and write.
"""

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from interception.models import ServiceOrder
from shop.models import Courier
from shop.request_limits import UploadLimit

from . import reconciliation
from .models import Statement
from .selectors import FeeFilters, outlets_of_shop_statements, shops_of_outlet_statements
from .statements import NOTE_MAX_LENGTH, OUTLET_VISIBLE_STATUSES, REFERENCE_MAX_LENGTH

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


# --- fee ledger ------------------------------------------------------------------------------------


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


# --- statement lists -------------------------------------------------------------------------------


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
        label=_("Status"), choices=[(s, Statement.Status(s).label) for s in OUTLET_VISIBLE_STATUSES]
    )
    shop = django_filters.ModelChoiceFilter(label=_("Shop"), queryset=Statement.objects.none(), field_name="shop")

    class Meta:
        model = Statement
        fields = ["status", "shop", "month_from", "month_to"]

    def __init__(self, data=None, queryset=None, *, outlet, **kwargs):
        super().__init__(data, queryset, **kwargs)
        self.filters["shop"].queryset = shops_of_outlet_statements(outlet=outlet)


# --- statement actions -----------------------------------------------------------------------------


class ActionForm(forms.Form):
    """Element ids carry the action's key, so that the page's several forms never share an id."""

    key = ""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", f"id_{self.key}_%s")
        super().__init__(*args, **kwargs)


class RecordPaymentForm(ActionForm):
    key = "pay"
    reference = forms.CharField(label=_("Payment reference"), max_length=REFERENCE_MAX_LENGTH)
    amount = forms.DecimalField(
        label=_("Amount paid (yuan)"),
        max_digits=12,
        decimal_places=2,
        min_value=0,
        widget=forms.NumberInput(attrs={"step": "0.01", "min": "0", "inputmode": "decimal"}),
    )


class ReissueStatementForm(ActionForm):
    key = "reissue"
    note = forms.CharField(
        label=_("How the dispute was sorted out"),
        max_length=NOTE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class ConfirmStatementForm(ActionForm):
    key = "confirm"
    note = forms.CharField(label=_("Note (optional)"), max_length=NOTE_MAX_LENGTH, required=False)


class DisputeStatementForm(ActionForm):
    key = "dispute"
    note = forms.CharField(
        label=_("What is wrong"),
        max_length=NOTE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": _("Say what is wrong with the statement.")},
    )


# The request limit of the bill upload: refused before its body is read (shop.request_limits).
BILL_UPLOAD = UploadLimit(file_bytes=reconciliation.MAX_BYTES)


class BillUploadForm(ActionForm):
    """The outlet's bill. Valid only when it reads as a bill: cleaned_data["lines"] then holds its lines."""

    key = "bill"
    bill = forms.FileField(
        label=_("The outlet's bill (CSV or XLSX)"),
        error_messages={
            "required": _("Choose the outlet's bill (CSV or XLSX)."),
            "empty": _("The file is empty."),
        },
        widget=forms.ClearableFileInput(
            attrs={"accept": ".csv,.xlsx,text/csv,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
        ),
    )

    def clean_bill(self):
        upload = self.cleaned_data["bill"]
        if upload.size > reconciliation.MAX_BYTES:  # refused before a byte of it is read
            raise ValidationError(_("The file is larger than 2 MB: split the bill into several files."))
        upload.seek(0)
        try:
            self.cleaned_data["lines"] = reconciliation.read_bill(data=upload.read())
        except reconciliation.BillError as error:
            raise ValidationError(error.messages) from None
        return upload
