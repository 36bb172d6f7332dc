"""The API's endpoints, one module per resource. Each one calls the pages' selectors and services."""

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


def aware(value):
    """A time sent without an offset is Asia/Shanghai time, as everything the API writes."""
    if value is not None and timezone.is_naive(value):
        return timezone.make_aware(value)
    return value
