"""Evidence images: the upload field that checks them, the service-side check, and serving them back.

An evidence image is one to five real JPEG, PNG or WebP files (by their bytes, not their names) of at
most 5 MB each. The stored type and name come from the bytes; an image is served only to a viewer
the caller has already scoped, never from a public URL.
"""

import uuid
from collections.abc import Iterable

from django import forms
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _

from .errors import DomainError
from .request_limits import UploadLimit

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
IMAGE_TYPES = frozenset(content_type for content_type, _ext, _test in IMAGE_SIGNATURES)


def sniff_image_type(upload) -> tuple[str, str] | None:
    """(content type, extension) from the file's magic bytes, or None when it is no JPEG, PNG or WebP."""
    upload.seek(0)
    head = upload.read(12)
    upload.seek(0)
    for content_type, extension, test in IMAGE_SIGNATURES:
        if test(head):
            return content_type, extension
    return None


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


def checked_evidence(evidence: Iterable) -> list:
    """The uploads checked as the evidence field checks them (for a service called without a form);
    DomainError(code="evidence") with the field's messages when they are not valid evidence."""
    try:
        return EvidenceField().clean(list(evidence))
    except ValidationError as error:
        raise DomainError(" ".join(error.messages), code="evidence") from None


def serve_evidence(file, *, content_type: str) -> FileResponse:
    """An already scoped evidence file: inline only when its type was checked on upload, otherwise a
    download that is never rendered; privately cached, never sniffed. A missing file is a 404."""
    try:
        handle = file.open("rb")
    except (FileNotFoundError, ValueError):
        raise Http404 from None
    if content_type in IMAGE_TYPES:
        response = FileResponse(handle, content_type=content_type)
    else:
        response = FileResponse(handle, as_attachment=True, content_type="application/octet-stream")
    response["Cache-Control"] = "private, max-age=3600"
    response["X-Content-Type-Options"] = "nosniff"
    return response
