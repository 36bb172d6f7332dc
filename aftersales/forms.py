"""Forms of the merchant's after-sale actions. They validate input only; the services decide and write.

Every action form carries the after-sale's `version` as the page showed it, so that the service can
refuse an action posted from a stale page.
"""

import uuid
from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

from shop import widgets
from shop.evidence import EvidenceField

from .models import AfterSale


class ActionForm(forms.Form):
    """The after-sale's version when the page was opened: a later change makes the service refuse.

    `key` names the action; element ids carry it, so that the page's several forms never share an id.
    """

    key = ""
    version = forms.IntegerField(min_value=1, widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", f"id_{self.key}_%s")
        super().__init__(*args, **kwargs)


class AgreeRefundForm(ActionForm):
    key = "agree_refund"


class AgreeReturnForm(ActionForm):
    key = "agree_return"


class ConfirmReceiptForm(ActionForm):
    key = "confirm_receipt"


class SendCardForm(ActionForm):
    key = "send_card"


class RejectForm(ActionForm):
    key = "reject"
    reason = forms.ChoiceField(label=_("Reason"), choices=AfterSale.RejectReason.choices)
    note = forms.CharField(
        label=_("Note to the buyer"), max_length=500, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    evidence = EvidenceField(
        label=_("Evidence images"),
        help_text=_("1 to 5 JPEG, PNG or WebP images, at most 5 MB each."),
    )


class SmallPaymentForm(ActionForm):
    key = "small_payment"
    amount = forms.DecimalField(
        label=_("Amount (yuan)"),
        max_digits=12,
        decimal_places=2,
        min_value=Decimal("0.01"),
        error_messages={"min_value": _("The amount must be more than 0.00 yuan.")},
        widget=forms.NumberInput(attrs={"step": "0.01", "min": "0.01"}),
    )
    reason = forms.CharField(label=_("Reason"), max_length=200)
    # Generated with the page: the same form posted twice (a double click, a resend) pays once.
    idempotency_key = forms.UUIDField(widget=forms.HiddenInput, initial=uuid.uuid4)


class FlagForm(ActionForm):
    key = "flag"
    flag = forms.ChoiceField(label=_("Flag"), choices=AfterSale.Flag.choices, required=False)
    remark = forms.CharField(
        label=_("Remark"), max_length=500, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )


KEEP_FLAG, NO_FLAG = "", "none"


# A posted selection holds at most this many ids: bounded work for any request (a page shows 100 rows;
# a confirmation of "every filtered row" at most services.bulk.MAX_BULK_AFTER_SALES).
MAX_TICKED = 1000


def ticked_versions(data) -> dict[int, int]:
    """{id: version} of the ticked rows (`ids` and `version_<id>`, as the workbench table posts them)."""
    ids = data.getlist("ids")
    if len(ids) > MAX_TICKED:
        raise forms.ValidationError(_("Too many rows ticked: at most %(n)s.") % {"n": MAX_TICKED})
    try:
        return {int(pk): int(data[f"version_{int(pk)}"]) for pk in ids}
    except (KeyError, ValueError, OverflowError):
        raise forms.ValidationError(_("The selection could not be read. Reload the page and try again.")) from None


class BulkSelectionForm(forms.Form):
    """The ticked rows of a bulk confirmation."""

    def clean(self):
        data = super().clean()
        data["versions"] = ticked_versions(self.data)
        return data


class BulkRejectSignedForm(BulkSelectionForm):
    """The confirmation of a bulk rejection with reason 已签收: the ticked rows, a note, the card."""

    note = forms.CharField(
        label=_("Note to the buyer (optional)"),
        required=False,
        max_length=200,
        widget=widgets.TextInput(attrs={"placeholder": _("e.g. please apply for return and refund"), "size": 48}),
    )
    send_card = forms.BooleanField(
        label=_("Send each buyer the after-sale card, inviting a return-and-refund application"),
        required=False,
        widget=widgets.CheckboxInput,
    )


class BulkFlagForm(forms.Form):
    """The flag and remark for the ticked rows; `ids` and `version_<id>` come from the table."""

    def __init__(self, *args, **kwargs):
        # The filter form on the same page has its own "flag": keep the element ids apart.
        kwargs.setdefault("auto_id", "id_bulk_%s")
        super().__init__(*args, **kwargs)

    flag = forms.ChoiceField(
        label=_("Flag"),
        required=False,
        widget=widgets.Select,
        choices=[
            (KEEP_FLAG, _("keep the flag")),
            (NO_FLAG, _("remove the flag")),
            *[(c.value, c.label) for c in AfterSale.Flag if c.value],
        ],
    )
    remark = forms.CharField(
        label=_("Remark"),
        required=False,
        max_length=500,
        widget=widgets.TextInput(attrs={"placeholder": _("e.g. intercepted on 11-22")}),
    )
    clear_remark = forms.BooleanField(label=_("clear the remark"), required=False, widget=widgets.CheckboxInput)

    def clean(self):
        data = super().clean()
        data["versions"] = ticked_versions(self.data)
        flag = data.get("flag", KEEP_FLAG)
        data["flag"] = None if flag == KEEP_FLAG else ("" if flag == NO_FLAG else flag)
        data["remark"] = "" if data.get("clear_remark") else (data.get("remark") or None)
        return data
