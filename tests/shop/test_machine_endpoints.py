"""The signed machine endpoints are served without the browser middlewares (MachineEndpointMiddleware)."""

import json

import pytest

from shop.middleware import MachineEndpointMiddleware
from shop.models import PlatformEvent
from shop.request_limits import API_BODY_MAX_BYTES

pytestmark = pytest.mark.django_db


def test_an_event_is_answered_without_session_locale_clickjacking_or_messages(events, shop):
    response = events.send("aftersale.cancelled", {"after_sale_no": "AS-404"})
    assert response.status_code == 404
    # Each of these headers is the mark of a middleware that did run: clickjacking (X-Frame-Options),
    # locale (Content-Language, Vary: Accept-Language), session and CSRF (Vary: Cookie, cookies).
    assert "X-Frame-Options" not in response.headers
    assert "Content-Language" not in response.headers
    assert "Vary" not in response.headers
    assert response.cookies == {}
    # The security and CSP middlewares come before it: their headers stay.
    assert "Content-Security-Policy" in response.headers
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_a_page_still_goes_through_every_middleware(client):
    response = client.get("/accounts/login/")
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "Content-Language" in response.headers


def test_the_carrier_callback_is_a_machine_endpoint_too(client):
    response = client.post("/api/carrier/callback", data=b"{}", content_type="application/json")
    assert response.status_code == 401
    assert "X-Frame-Options" not in response.headers


def test_the_merchant_api_is_not_short_cut(client):
    response = client.get("/api/v1/after-sales")
    assert response.status_code == 401
    assert response.headers["X-Frame-Options"] == "DENY"


def test_a_body_announced_above_the_limit_is_refused_unread(events, shop):
    body = b"{}"
    response = events.client.post(
        "/api/platform/events",
        data=body,
        content_type="application/json",
        headers={"X-Platform-Timestamp": "1", "X-Platform-Signature": "x"},
        CONTENT_LENGTH=str(API_BODY_MAX_BYTES + 1),
    )
    assert response.status_code == 400
    assert response.json()["field"] == ""
    assert PlatformEvent.objects.count() == 0


def test_the_answer_speaks_the_language_the_locale_middleware_would_pick(events, shop):
    body = json.dumps({"id": "e-1", "type": "aftersale.cancelled", "occurred_at": "2026-11-22T10:15:00+08:00"})
    chinese = events.client.post("/api/platform/events", data=body, content_type="application/json")
    english = events.client.post(
        "/api/platform/events", data=body, content_type="application/json", headers={"Accept-Language": "en"}
    )
    assert chinese.status_code == english.status_code == 401
    assert english.json()["error"] == "missing X-Platform-Timestamp or X-Platform-Signature"


def test_an_unknown_api_path_goes_down_the_chain(client):
    response = client.get("/api/nothing-here")
    assert response.status_code == 404
    assert response.headers["X-Frame-Options"] == "DENY"


def test_the_middleware_sits_before_the_session_and_after_security(settings):
    names = settings.MIDDLEWARE
    here = names.index(f"{MachineEndpointMiddleware.__module__}.{MachineEndpointMiddleware.__name__}")
    assert names.index("django.middleware.security.SecurityMiddleware") < here
    assert here < names.index("django.contrib.sessions.middleware.SessionMiddleware")
    assert here < names.index("axes.middleware.AxesMiddleware")


def test_a_host_outside_allowed_hosts_is_refused_before_the_view(events, shop):
    response = events.client.post(
        "/api/platform/events", data=b"{}", content_type="application/json", headers={"Host": "evil.example"}
    )
    assert response.status_code == 400
    assert PlatformEvent.objects.count() == 0
