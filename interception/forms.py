"""Forms of the interception pages and the outlet portal. They check input only; the services decide."""

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from shop.models import Courier

from .selectors import offline_settlement_couriers

NOTE_MAX_LENGTH = 300  # PartnershipLog.note and Partnership.outlet_note


class CourierChoiceForm(forms.Form):
    """GET ?courier=…: which courier's outlets the apply form lists (works without JavaScript)."""

    courier = forms.ModelChoiceField(
        label=_("Courier"),
        queryset=offline_settlement_couriers(),
        to_field_name="code",
        required=False,
        empty_label=_("— choose a courier —"),
    )


class OutletIdsField(forms.Field):
    """The ticked outlet checkboxes as a sorted list of ids. Which ids are allowed is the service's call."""

    widget = forms.CheckboxSelectMultiple
    default_error_messages = {
        "required": _("Choose one or more outlets."),
        "invalid": _("Choose outlets from the list."),
    }

    def to_python(self, value):
        if not value:
            return []
        try:
            return sorted({int(item) for item in value})
        except (TypeError, ValueError):
            raise ValidationError(self.error_messages["invalid"], code="invalid") from None


class PartnershipApplyForm(forms.Form):
    courier = forms.CharField(max_length=20, widget=forms.HiddenInput)
    outlets = OutletIdsField(label=_("Outlets"))
    fee = forms.DecimalField(
        label=_("Fee per parcel (yuan)"),
        max_digits=12,
        decimal_places=2,
        widget=forms.NumberInput(attrs={"step": "0.01", "min": "0.01", "inputmode": "decimal"}),
    )


class ApprovePartnershipForm(forms.Form):
    note = forms.CharField(label=_("Note (optional)"), max_length=NOTE_MAX_LENGTH, required=False)


class RejectPartnershipForm(forms.Form):
    note = forms.CharField(
        label=_("Reason"),
        max_length=NOTE_MAX_LENGTH,
        error_messages={"required": _("Say why the application is rejected.")},
    )


class EndPartnershipForm(forms.Form):
    note = forms.CharField(label=_("Note (optional)"), max_length=NOTE_MAX_LENGTH, required=False)


class AssistantRuleForm(forms.Form):
    enabled = forms.BooleanField(label=_("Intercept and refund automatically"), required=False)
    min_amount = forms.DecimalField(label=_("From amount (yuan)"), min_value=0, max_digits=12, decimal_places=2)
    max_amount = forms.DecimalField(label=_("Up to amount (yuan)"), min_value=0, max_digits=12, decimal_places=2)
    couriers = forms.ModelMultipleChoiceField(
        label=_("Couriers (none: all)"),
        queryset=Courier.objects.filter(supports_online_interception=True),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    def clean(self):
        data = super().clean()
        if data.get("min_amount") is not None and data.get("max_amount") is not None:
            if data["min_amount"] > data["max_amount"]:
                raise forms.ValidationError(gettext("The lower amount must not be above the upper amount."))
        return data
