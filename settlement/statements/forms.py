"""Forms of the statement actions and of the reconciliation upload.

They check input only; the services decide and write.
"""

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from shop.request_limits import UploadLimit

from . import reconciliation
from .models import NOTE_MAX_LENGTH, REFERENCE_MAX_LENGTH


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
