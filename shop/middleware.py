from django.conf import settings
from django.urls import Resolver404, resolve
from django.utils import translation

from . import request_limits


class ContentSecurityPolicyMiddleware:
    """Adds the Content-Security-Policy header: every script and style comes from this app."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", settings.CONTENT_SECURITY_POLICY)
        return response


def machine_endpoint(view):
    """Mark a view that machines call with a signed body (HMAC of the request, no session, no form):
    MachineEndpointMiddleware serves it without the browser middlewares."""
    view.machine_endpoint = True
    return view


class MachineEndpointMiddleware:
    """Serves the signed machine endpoints (platform events, carrier callback) without the rest of
    the middleware chain.

    They are authenticated by the signature of their body, never by a cookie, and answer JSON to a
    program: sessions, CSRF (they are exempt), authentication, messages, clickjacking headers and
    django-axes' login throttle have nothing to do there, yet cost each event their share of a
    request. Placed after the security and CSP middlewares, whose headers every answer still gets.

    A request under /api/ whose view is marked with @machine_endpoint is answered here: the host
    checked against ALLOWED_HOSTS, the body limit of RequestLimitMiddleware (Content-Length above the
    view's limit: refused unread), the language the locale middleware would pick (the contract's
    messages are translated), then the view. Every other request goes down the chain as before.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path_info.startswith(request_limits.API_PREFIX):
            return self.get_response(request)
        try:
            match = resolve(request.path_info)
        except Resolver404:
            return self.get_response(request)
        if not getattr(match.func, "machine_endpoint", False):
            return self.get_response(request)
        request.get_host()  # ALLOWED_HOSTS still holds (CommonMiddleware would check it): else a 400
        max_bytes, _upload = request_limits.limits_of(match.func)
        length = request_limits.content_length(request)
        if length is not None and length > max_bytes:
            return request_limits.too_large_response(request, request_limits.body_message(max_bytes))
        with translation.override(translation.get_language_from_request(request)):
            return match.func(request, *match.args, **match.kwargs)
