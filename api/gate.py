"""What every API request passes before its endpoint runs, in the contract's order of answers.

401 (token) → 429 (rate limit, needs the token) → 403 (scope) → 413 (body size, from the
Content-Length header: the body is never read) → then the endpoint: 422 (shape), 404, 409. A POST
with an `Idempotency-Key` then runs inside the idempotency record (api.idempotency).

Cookies play no part: the token comes from the Authorization header only, so a browser session
cannot call the API and no CSRF token is needed.
"""

import functools

from django.conf import settings
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from . import idempotency, ratelimit, tokens
from .errors import ApiError, error_response, json_response

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
UNLIMITED = 2**62


def max_body_bytes() -> int:
    return int(getattr(settings, "API_MAX_BODY_BYTES", 16 * 1024 * 1024))


def bearer(request) -> str:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _sep, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


def check(request):
    """The token of an allowed request, or ApiError with the first answer that wins."""
    token = tokens.authenticate(bearer(request))
    if token is None:
        raise ApiError(401, "unauthenticated", _("A valid API token is needed: Authorization: Bearer <token>."))
    wait = ratelimit.take(token)
    if wait is not None:
        raise ApiError(
            429,
            "rate_limited",
            _("More than %(n)s requests per second: slow down.") % {"n": settings.API_RATE_LIMIT_PER_SECOND},
            headers={"Retry-After": str(int(wait))},
        )
    if request.method not in SAFE_METHODS and not token.can_write:
        raise ApiError(403, "forbidden_scope", _("This token may only read: a write token is needed."))
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    limit = max_body_bytes()
    if length > limit:
        raise ApiError(413, "too_large", _("The request body is over 16 MB."))
    if request.method not in SAFE_METHODS:
        # Read here, never past the limit (a body of unannounced length too); request.body serves it on.
        body = request.read(limit + 1)
        if len(body) > limit:
            raise ApiError(413, "too_large", _("The request body is over 16 MB."))
        request._body = body
    return token


def gated(view):
    """Wrap an API view: the checks above, then the view (inside an idempotency record for a keyed POST)."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        # Whatever the session middleware found, the API acts as nobody but the token.
        request.COOKIES = {}
        try:
            token = check(request)
        except ApiError as error:
            return error_response(error)
        request.api_token = token
        if request.method == "POST" and "HTTP_IDEMPOTENCY_KEY" in request.META:
            return idempotency.run(request, token, lambda: _call(view, request, args, kwargs))
        return _call(view, request, args, kwargs)

    # shop.request_limits leaves the body to the gate: the size answer comes after 401 and 403 here.
    wrapper.max_body_bytes = UNLIMITED
    return csrf_exempt(wrapper)


def _call(view, request, args, kwargs):
    response = view(request, *args, **kwargs)
    if response.status_code == 405 and not response.get("Content-Type", "").startswith("application/json"):
        return json_response(
            {"error": {"code": "method_not_allowed", "message": _("This method is not allowed here.")}},
            status=405,
            headers={"Allow": response.get("Allow", "")},
        )
    return response


@gated
def unknown_path(request, path=""):
    return error_response(ApiError(404, "not_found", _("There is no such endpoint.")))
