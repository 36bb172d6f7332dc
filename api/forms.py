"""Forms of the owner's API page. They check input only; api.tokens and api.webhooks decide and write."""

from django import forms
from django.core.validators import URLValidator
from django.utils.translation import gettext_lazy as _

from .models import WebhookEndpoint

# The webhook events by what they mean; the code (the payload's "event") stays the API's contract.
EVENT_LABELS = {
    "after_sale.created": _("an after-sale is created"),
    "after_sale.updated": _("an after-sale changes"),
    "refund.created": _("a refund is made"),
    "service_order.updated": _("an interception service order changes"),
}


class TokenForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100, help_text=_("What the token is for, e.g. the ERP's name."))
    scopes = forms.ChoiceField(
        label=_("Scopes"),
        choices=[("read", _("read: every GET")), ("read,write", _("read and write: decisions, payments, webhooks"))],
        initial="read",
    )


class EndpointForm(forms.Form):
    url = forms.URLField(
        label=_("URL"),
        max_length=500,
        assume_scheme="https",
        validators=[URLValidator(schemes=["http", "https"])],  # no ftp://, which URLField allows
    )
    events = forms.MultipleChoiceField(
        label=_("Events"),
        choices=[(event, EVENT_LABELS.get(event, event)) for event in WebhookEndpoint.EVENTS],
        widget=forms.CheckboxSelectMultiple,
        initial=list(WebhookEndpoint.EVENTS),
    )
