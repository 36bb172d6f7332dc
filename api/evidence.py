"""Evidence images sent as base64: decoded, checked by their bytes (PNG, JPEG or WebP), ≤ 2 MB each."""

import base64
import binascii
import uuid

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils.translation import gettext as _

from shop.evidence import sniff_image_type

from .errors import ApiError

MAX_IMAGES = 5
MAX_BYTES = 2 * 1024 * 1024


def decode_evidence(evidence: list) -> list[SimpleUploadedFile]:
    """Uploads ready for the reject service (type and name from the bytes); ApiError 422 naming the field."""
    if not 1 <= len(evidence) <= MAX_IMAGES:
        raise ApiError(422, "invalid", _("Attach 1 to 5 evidence images."), field="evidence")
    uploads = []
    for index, item in enumerate(evidence):
        field = f"evidence[{index}].content_base64"
        text = item.content_base64
        # 2 MB decoded is at most this much base64: refuse a longer text before decoding it.
        if len(text) > (MAX_BYTES + 2) // 3 * 4 + 4:
            raise ApiError(422, "invalid", _("An evidence image is at most 2 MB."), field=field)
        try:
            content = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise ApiError(422, "invalid", _("Not valid base64."), field=field) from None
        if not content or len(content) > MAX_BYTES:
            raise ApiError(422, "invalid", _("An evidence image is 1 byte to 2 MB."), field=field)
        upload = SimpleUploadedFile("evidence", content)
        sniffed = sniff_image_type(upload)
        if sniffed is None:
            raise ApiError(422, "invalid", _("Not a PNG, JPEG or WebP image."), field=field)
        upload.content_type = sniffed[0]
        upload.name = f"{uuid.uuid4().hex}.{sniffed[1]}"
        uploads.append(upload)
    return uploads
