"""The error envelope of merchant-api.md: {"error": {"code", "message", "field"?}}, always JSON."""

import json

from django.http import HttpResponse


class ApiError(Exception):
    """An answer other than success, raised anywhere in a request and written as the envelope."""

    def __init__(self, status: int, code: str, message: str, *, field: str | None = None, headers=None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = str(message)
        self.field = field
        self.headers = headers or {}


def envelope(code: str, message: str, field: str | None = None) -> dict:
    error = {"code": code, "message": str(message)}
    if field is not None:
        error["field"] = field
    return {"error": error}


def json_response(data, status: int = 200, headers=None) -> HttpResponse:
    """JSON as the contract writes it: UTF-8, Chinese text not escaped."""
    response = HttpResponse(
        json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode(),
        status=status,
        content_type="application/json; charset=utf-8",
    )
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def error_response(error: ApiError) -> HttpResponse:
    return json_response(envelope(error.code, error.message, error.field), status=error.status, headers=error.headers)


def field_path(loc) -> str:
    """A pydantic error location as the contract names fields: evidence[0].content_base64."""
    parts = list(loc)
    # Ninja prefixes the source ("body", "query", "path") and the parameter's own name.
    if parts and parts[0] in ("body", "query", "path", "header"):
        source = parts.pop(0)
        if source == "body" and parts and parts[0] == "payload":
            parts.pop(0)
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text
