"""The API's endpoints, one module per resource. Each one calls the pages' selectors and services."""

from datetime import UTC, datetime

from django.utils import timezone
from django.utils.translation import gettext as _

from ..errors import ApiError
from ..schemas import Error

# The error answers every endpoint may give, for the OpenAPI document.
READ_ERRORS = {401: Error, 404: Error, 422: Error, 429: Error}
WRITE_ERRORS = {**READ_ERRORS, 403: Error, 409: Error, 413: Error}


def token_of(request):
    return request.api_token


def not_found(what: str = "") -> ApiError:
    return ApiError(404, "not_found", what or _("Not found."))


def invalid(field: str, message: str) -> ApiError:
    return ApiError(422, "invalid", message, field=field)


# The window every time the API reads must fall in, as the inbound events' (2000 to 2100, UTC).
EARLIEST, LATEST = datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)


def aware(value, field: str = "updated_since"):
    """A time sent without an offset is Asia/Shanghai time, as everything the API writes. In UTC, and
    inside the 2000–2100 window: the databases refuse odd offsets (+19:08) and far years (a 500)."""
    if value is None:
        return None
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    try:
        value = value.astimezone(UTC)
    except (OverflowError, ValueError):
        raise invalid(field, _("A time from 2000 to 2100 is expected.")) from None
    if not EARLIEST <= value < LATEST:
        raise invalid(field, _("A time from 2000 to 2100 is expected."))
    return value
