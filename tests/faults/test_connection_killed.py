"""The database connection of a request killed while it writes (pg_terminate_backend from a second
connection): the request fails cleanly, nothing is half-written, and the next request succeeds.

Requests go to the live server (a real WSGI server in a thread): like gunicorn, and unlike the test
client, it closes a broken connection when the request ends, so the next request gets a new one.
The kill is triggered from inside the service, at the buyer notification that comes after the
after-sale's rows (and, for a refund, the ledger row and the counters) were written.
"""

import http.client
import json
import re
import time
from decimal import Decimal
from urllib.parse import urlencode, urlsplit

import psycopg
import pytest
from django.conf import settings
from django.db import connection
from django.test import Client

from aftersales import notifications
from aftersales.models import AfterSale, RefundEntry
from shop.models import Order, PlatformEvent
from shop.signing import sign
from tests.aftersales.factories import make_after_sale, snapshot
from tests.shop.factories import make_order, make_parcel

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.faults,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="pg_terminate_backend is PostgreSQL's"),
]


def terminate_backend(pid: int) -> None:
    """From a connection of our own: end the server process of `pid` and wait until it is gone."""
    s = connection.settings_dict
    with psycopg.connect(
        host=s["HOST"] or "127.0.0.1", port=s["PORT"] or 5432, user=s["USER"], password=s["PASSWORD"] or None,
        dbname=s["NAME"], autocommit=True,
    ) as admin:  # fmt: skip
        assert admin.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone() == (True,)
        deadline = time.monotonic() + 10
        while admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone():
            assert time.monotonic() < deadline, "the backend did not end"
            time.sleep(0.02)


@pytest.fixture
def kill_connection_at(monkeypatch):
    """kill_connection_at(module, name): the first call of module.name kills the caller's database
    connection, then goes on as usual (its next query fails). Returns the list of killed backend pids."""

    def arm(module, name: str) -> list[int]:
        original, killed = getattr(module, name), []

        def hooked(*args, **kwargs):
            if not killed:
                killed.append(connection.connection.info.backend_pid)  # this thread's: the request's
                terminate_backend(killed[0])
            return original(*args, **kwargs)

        monkeypatch.setattr(module, name, hooked)
        return killed

    return arm


def request(live_server, method: str, path: str, *, body: bytes = b"", headers: dict | None = None):
    """One HTTP request to the live server, no redirect followed: (status, headers, body)."""
    parts = urlsplit(live_server.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.headers, response.read().decode()
    finally:
        conn.close()


def assert_clean_failure(status: int, body: str) -> None:
    assert status == 500
    for leak in ("Traceback", "psycopg", "OperationalError", "terminating connection", 'File "'):
        assert leak not in body


def post_event(live_server, body: bytes):
    ts = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "X-Platform-Timestamp": ts,
        "X-Platform-Signature": sign(body, ts, settings.PLATFORM_EVENTS_SECRET),
    }
    return request(live_server, "POST", "/api/platform/events", body=body, headers=headers)


def test_an_event_whose_connection_dies_mid_write_is_not_applied_and_its_retry_is(
    live_server, shop, yto_outlet, kill_connection_at
):
    order = make_order(shop, order_no="O-1001", status=Order.Status.SHIPPED, lines=[{"paid_amount": "129.00"}])
    make_parcel(order, outlet=yto_outlet, tracking_no="YT1234567890")
    event = {
        "id": "evt-killed-1",
        "type": "aftersale.applied",
        "occurred_at": "2026-11-22T10:15:00+08:00",
        "data": {"after_sale_no": "AS-5001", "order_no": "O-1001", "line_no": "1", "type": "refund_only",
                 "reason": "not_received", "amount": "129.00", "note": "一直没到"},
    }  # fmt: skip
    body = json.dumps(event, ensure_ascii=False).encode()
    killed = kill_connection_at(notifications, "notify_buyer")  # after the after-sale and its log are written
    before = snapshot()

    status, _headers, page = post_event(live_server, body)

    assert len(killed) == 1, "the kill did not happen inside the request"
    assert_clean_failure(status, page)
    assert snapshot() == before  # rolled back whole: no after-sale, no log, no event record

    # The platform delivers it again: the next request has a new connection and applies it, once.
    status, _headers, page = post_event(live_server, body)

    assert status == 200, page
    assert json.loads(page)["result"] == "applied"
    assert list(AfterSale.objects.values_list("after_sale_no", "status")) == [("AS-5001", "refund_after_refusal")]
    assert list(PlatformEvent.objects.values_list("event_id", flat=True)) == ["evt-killed-1"]
    assert len(killed) == 1


def test_a_refund_whose_connection_dies_after_the_ledger_row_is_rolled_back_and_the_next_try_refunds_once(
    live_server, shop, merchant, kill_connection_at
):
    order = make_order(shop, order_no="O-2001", status=Order.Status.SHIPPED, lines=[{"paid_amount": "129.00"}])
    after_sale = make_after_sale(order, after_sale_no="AS-6001", amount="129.00")
    browser = Client()
    browser.force_login(merchant)
    cookies = {"sessionid": browser.cookies[settings.SESSION_COOKIE_NAME].value}
    status, headers, page = request(
        live_server, "GET", "/aftersales/AS-6001/", headers={"Cookie": f"sessionid={cookies['sessionid']}"}
    )
    assert status == 200
    cookies["csrftoken"] = re.search(r"csrftoken=([^;]+)", headers["Set-Cookie"]).group(1)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)

    def agree_refund():
        form = urlencode({"csrfmiddlewaretoken": token, "version": after_sale.version}).encode()
        return request(
            live_server,
            "POST",
            "/aftersales/AS-6001/agree-refund/",
            body=form,
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items()),
            },
        )

    # The refund's ledger row and counters are written before the buyer is told: the kill lands after them.
    killed = kill_connection_at(notifications, "notify_buyer")
    before = snapshot()

    status, _headers, page = agree_refund()

    assert len(killed) == 1, "the kill did not happen inside the request"
    assert_clean_failure(status, page)
    assert snapshot() == before  # no refund row, no counter moved, the after-sale as it was

    # The merchant clicks again: a new connection, and the refund is made once.
    status, headers, _page = agree_refund()

    assert status == 302 and headers["Location"] == "/aftersales/AS-6001/"
    after_sale.refresh_from_db()
    assert (after_sale.status, after_sale.refunded_amount) == ("refunded", Decimal("129.00"))
    assert list(RefundEntry.objects.values_list("after_sale__after_sale_no", "amount")) == [
        ("AS-6001", Decimal("129.00"))
    ]
    assert Order.objects.get(pk=order.pk).refunded_amount == Decimal("129.00")
