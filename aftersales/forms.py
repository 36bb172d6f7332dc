"""Forms of the merchant's after-sale actions. They validate input only; the services decide and write.

Every action form carries the after-sale's `version` as the page showed it, so that the service can
refuse an action posted from a stale page.
"""

import uuid
from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _

from shop.request_limits import UploadLimit

from .models import AfterSale

MAX_EVIDENCE_IMAGES = 5
MAX_EVIDENCE_BYTES = 5 * 1024 * 1024
# The request limit of a form with evidence: refused before its body is read (shop.request_limits).
EVIDENCE_UPLOAD = UploadLimit(file_bytes=MAX_EVIDENCE_BYTES, files=MAX_EVIDENCE_IMAGES)
# What the file starts with, not what it is called: (content type, extension, test on the first bytes).
IMAGE_SIGNATURES = (
    ("image/jpeg", "jpg", lambda head: head.startswith(b"\xff\xd8\xff")),
    ("image/png", "png", lambda head: head.startswith(b"\x89PNG\r\n\x1a\n")),
    ("image/webp", "webp", lambda head: head[:4] == b"RIFF" and head[8:12] == b"WEBP"),
)
ACCEPTED_TYPES = ",".join(content_type for content_type, _ext, _test in IMAGE_SIGNATURES)


def sniff_image_type(upload) -> tuple[str, str] | None:
    """(content type, extension) from the file's magic bytes, or None when it is no JPEG, PNG or WebP."""
    upload.seek(0)
    head = upload.read(12)
    upload.seek(0)
    for content_type, extension, test in IMAGE_SIGNATURES:
        if test(head):
            return content_type, extension
    return None


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


class MultipleImageInput(forms.FileInput):
    allow_multiple_selected = True


class EvidenceField(forms.FileField):
    """One to five images, each a real JPEG, PNG or WebP (by its bytes) of at most 5 MB."""

    widget = MultipleImageInput(attrs={"accept": ACCEPTED_TYPES})
    default_error_messages = {
        "required": _("Attach at least one evidence image."),
        "too_many": _("Attach at most %(max)s evidence images."),
        "too_large": _("%(name)s is larger than %(max)s."),
        "not_image": _("%(name)s is not a JPEG, PNG or WebP image."),
    }

    def clean(self, data, initial=None):
        uploads = [upload for upload in (data if isinstance(data, list | tuple) else [data]) if upload]
        if not uploads:
            raise ValidationError(self.error_messages["required"], code="required")
        if len(uploads) > MAX_EVIDENCE_IMAGES:
            raise ValidationError(self.error_messages["too_many"], code="too_many", params={"max": MAX_EVIDENCE_IMAGES})
        errors = []
        for upload in uploads:
            super().clean(upload, initial)  # an empty or nameless upload
            if upload.size > MAX_EVIDENCE_BYTES:
                errors.append(
                    ValidationError(
                        self.error_messages["too_large"],
                        code="too_large",
                        params={"name": upload.name, "max": filesizeformat(MAX_EVIDENCE_BYTES)},
                    )
                )
                continue
            sniffed = sniff_image_type(upload)
            if sniffed is None:
                errors.append(
                    ValidationError(self.error_messages["not_image"], code="not_image", params={"name": upload.name})
                )
                continue
            # The stored type and name come from the bytes, never from what the browser claimed.
            upload.content_type = sniffed[0]
            upload.name = f"{uuid.uuid4().hex}.{sniffed[1]}"
        if errors:
            raise ValidationError(errors)
        return uploads


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
