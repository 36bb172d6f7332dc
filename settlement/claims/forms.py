"""Forms of the claim pages. They validate input only; the services in `claims` decide and write."""

from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

from shop.evidence import EvidenceField

from . import rules
from .models import Claim


def amount_field(label) -> forms.DecimalField:
    return forms.DecimalField(
        label=label,
        max_digits=12,
        decimal_places=2,
        min_value=Decimal("0.01"),
        error_messages={"min_value": _("The amount must be more than 0.00 yuan.")},
        widget=forms.NumberInput(attrs={"step": "0.01", "min": "0.01"}),
    )


class ClaimForm(forms.Form):
    """The merchant's claim on one service order; `goods_value` bounds the amount with the 1000-yuan cap."""

    reason = forms.ChoiceField(label=_("What happened"), choices=Claim.Reason.choices)
    amount = amount_field(_("Amount claimed (yuan)"))
    description = forms.CharField(
        label=_("Description"), max_length=1000, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    evidence = EvidenceField(
        label=_("Evidence images"), help_text=_("1 to 5 JPEG, PNG or WebP images, at most 5 MB each.")
    )

    def __init__(self, *args, goods_value: Decimal, **kwargs):
        super().__init__(*args, **kwargs)
        self.goods_value = goods_value
        self.fields["amount"].widget.attrs["max"] = str(min(goods_value, rules.CLAIM_CAP))

    def clean_amount(self):
        amount = self.cleaned_data["amount"]
        blocker = rules.amount_blocker(amount, self.goods_value)
        if blocker:
            raise forms.ValidationError(blocker[:1].upper() + blocker[1:])
        return amount


class CompensationForm(forms.Form):
    """The merchant records the outlet's offline payment of an accepted claim."""

    amount = amount_field(_("Amount received (yuan)"))
    payment_reference = forms.CharField(label=_("Payment reference"), max_length=100)


class AcceptClaimForm(forms.Form):
    amount = amount_field(_("Amount accepted (yuan)"))
    note = forms.CharField(label=_("Note to the merchant"), max_length=500, required=False)

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "id_accept_%s")
        super().__init__(*args, **kwargs)


class DisputeClaimForm(forms.Form):
    reason = forms.CharField(
        label=_("Why you dispute the claim"), max_length=500, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "id_dispute_%s")
        super().__init__(*args, **kwargs)


class ArbitrationForm(forms.Form):
    """The operator's decision on a claim in arbitration (Django admin)."""

    DECISIONS = (("compensate", _("Compensate")), ("reject", _("Reject")))

    decision = forms.ChoiceField(label=_("Decision"), choices=DECISIONS, widget=forms.RadioSelect)
    amount = forms.DecimalField(
        label=_("Compensation (yuan)"), max_digits=12, decimal_places=2, min_value=Decimal("0.01"), required=False
    )
    payment_reference = forms.CharField(label=_("Payment reference (if already paid)"), max_length=100, required=False)
    note = forms.CharField(label=_("Decision note"), max_length=500, widget=forms.Textarea(attrs={"rows": 3}))

    def clean(self):
        data = super().clean()
        if data.get("decision") == "compensate" and data.get("amount") is None:
            self.add_error("amount", _("Enter the compensation amount."))
        return data
