"""The API's fixtures: tokens of two shops and a client that sends them as the ERP does."""

import json

import pytest

from api import tokens
from tests.shop.factories import make_merchant

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


class ApiClient:
    """Django's test client speaking the merchant API: JSON bodies, a bearer token, optional headers."""

    def __init__(self, client, secret: str | None):
        self.client = client
        self.secret = secret

    def _headers(self, headers):
        base = {"Authorization": f"Bearer {self.secret}"} if self.secret else {}
        return {**base, **(headers or {})}

    def get(self, path, params=None, headers=None):
        return self.client.get(f"/api/v1{path}", params or {}, headers=self._headers(headers))

    def _send(self, method, path, body, headers, **extra):
        data = body if isinstance(body, bytes | str) else json.dumps(body, ensure_ascii=False)
        return getattr(self.client, method)(
            f"/api/v1{path}", data=data, content_type="application/json", headers=self._headers(headers), **extra
        )

    def post(self, path, body=None, headers=None, **extra):
        return self._send("post", path, {} if body is None else body, headers, **extra)

    def patch(self, path, body=None, headers=None, **extra):
        return self._send("patch", path, {} if body is None else body, headers, **extra)

    def delete(self, path, headers=None):
        return self.client.delete(f"/api/v1{path}", headers=self._headers(headers))


@pytest.fixture
def write_token(shop):
    return tokens.create_api_token(shop=shop, name="聚水潭", scopes="read,write", created_by=make_merchant(shop))


@pytest.fixture
def read_token(shop):
    return tokens.create_api_token(shop=shop, name="报表", scopes="read")


@pytest.fixture
def api(client, write_token) -> ApiClient:
    return ApiClient(client, write_token[1])


@pytest.fixture
def read_api(client, read_token) -> ApiClient:
    return ApiClient(client, read_token[1])


@pytest.fixture
def other_api(client, other_shop) -> ApiClient:
    return ApiClient(client, tokens.create_api_token(shop=other_shop, name="别家", scopes="read,write")[1])


@pytest.fixture
def anonymous_api(client) -> ApiClient:
    return ApiClient(client, None)


def error_of(response) -> dict:
    assert response["Content-Type"] == "application/json; charset=utf-8"
    return response.json()["error"]


@pytest.fixture
def after_sale(shop, yto_outlet):
    """AS-5001: a pending refund-only after-sale of 100.00 on O-1001, its parcel in transit (YT1234567890)."""
    from shop.models import Order
    from tests.aftersales.factories import make_after_sale
    from tests.shop.factories import make_order, make_parcel

    order = make_order(shop, order_no="O-1001", status=Order.Status.SHIPPED, lines=[{"paid_amount": "100.00"}])
    parcel = make_parcel(order, outlet=yto_outlet, tracking_no="YT1234567890")
    return make_after_sale(order, after_sale_no="AS-5001", parcel=parcel, reason="quality", amount="100.00")
