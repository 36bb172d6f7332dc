"""Opaque cursors: a position written as URL-safe base64, refused as 422 when it is not one of ours."""

import base64
import binascii

from django.utils.translation import gettext as _

from .errors import ApiError

VERSION = "1"
MAX_PART = 2**63 - 1


def encode(*parts: int) -> str:
    text = ".".join([VERSION, *(str(part) for part in parts)])
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode(cursor: str, size: int) -> tuple[int, ...]:
    """The `size` integers of a cursor made by encode(); ApiError 422 (field `cursor`) for anything else."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
        version, *parts = text.split(".")
        values = tuple(int(part) for part in parts)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        values, version = (), ""
    if version != VERSION or len(values) != size or any(not 0 <= value <= MAX_PART for value in values):
        raise ApiError(422, "invalid", _("This cursor is not one the API gave out."), field="cursor")
    return values
