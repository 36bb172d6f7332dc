"""The merchant open API v1 (merchant-api.md), on django-ninja.

Every request first passes api.gate (token, rate limit, scope, body size, idempotency); the handlers
below turn what the endpoints raise into the contract's error envelope.
"""

from django.http import Http404
from django.utils.translation import gettext as _
from ninja import NinjaAPI, Swagger
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.renderers import JSONRenderer
from ninja.security import HttpBearer

from shop.errors import DomainError, NotFound
from shop.permissions import PermissionRefused

from .errors import ApiError, error_response, field_path


class Renderer(JSONRenderer):
    """UTF-8 JSON, Chinese text as it is (not \\u-escaped)."""

    charset = "utf-8"
    json_dumps_params = {"ensure_ascii": False, "separators": (",", ":")}


class Bearer(HttpBearer):
    """For the OpenAPI document: the check itself ran in api.gate, which left the token on the request."""

    def __call__(self, request):
        return getattr(request, "api_token", None)

    def authenticate(self, request, token):  # pragma: no cover - __call__ above answers
        return None


api = NinjaAPI(
    title="After-sales back office — merchant open API",
    version="1",
    description="The contract is merchant-api.md. Authorization: Bearer <token>.",
    urls_namespace="api-v1",
    auth=Bearer(),
    renderer=Renderer(),
    docs=Swagger(),
    docs_url="/docs",
    openapi_url="/openapi.json",
)


@api.exception_handler(ApiError)
def _api_error(request, exc: ApiError):
    return error_response(exc)


@api.exception_handler(DomainError)
def _domain_error(request, exc: DomainError):
    return error_response(ApiError(409, exc.code, exc.message))


@api.exception_handler(PermissionRefused)
def _refused(request, exc: PermissionRefused):
    # The token's service user lacks the permission set (its scopes give it; see shop.permissions).
    return error_response(ApiError(403, "forbidden_permission", exc.message))


@api.exception_handler(NotFound)
def _not_found(request, exc: NotFound):
    return error_response(ApiError(404, "not_found", exc.message))


@api.exception_handler(Http404)
def _http404(request, exc):
    return error_response(ApiError(404, "not_found", _("Not found.")))


@api.exception_handler(AuthenticationError)
def _unauthenticated(request, exc):
    return error_response(ApiError(401, "unauthenticated", _("A valid API token is needed.")))


@api.exception_handler(ValidationError)
def _invalid(request, exc: ValidationError):
    first = exc.errors[0] if exc.errors else {}
    field = field_path(first.get("loc", ()))
    message = first.get("msg", _("Invalid request."))
    return error_response(ApiError(422, "invalid", message, field=field or None))


@api.exception_handler(HttpError)
def _http_error(request, exc: HttpError):
    if exc.status_code == 400:  # ninja: the body is not JSON
        return error_response(ApiError(422, "invalid", _("The body is not valid JSON."), field="body"))
    return error_response(ApiError(exc.status_code, "error", str(exc)))


from .endpoints import after_sales, orders, service_orders, statements, webhooks  # noqa: E402 - routes on `api`

api.add_router("/", after_sales.router)
api.add_router("/", orders.router)
api.add_router("/", service_orders.router)
api.add_router("/", statements.router)
api.add_router("/", webhooks.router)
