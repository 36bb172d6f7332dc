"""/api/v1/: the API's endpoints, each behind api.gate; the OpenAPI document and docs need no token."""

from django.urls import URLPattern, re_path

from .gate import gated, unknown_path
from .main import api

OPEN = {"openapi-json", "openapi-view"}


def _patterns():
    patterns, _app_name, _namespace = api.urls
    for pattern in patterns:
        if isinstance(pattern, URLPattern) and pattern.name not in OPEN:
            pattern = URLPattern(pattern.pattern, gated(pattern.callback), pattern.default_args, pattern.name)
        yield pattern
    yield re_path(r"^(?P<path>.*)$", unknown_path)


app_name = "api-v1"
urlpatterns = list(_patterns())
