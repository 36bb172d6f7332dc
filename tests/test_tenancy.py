"""Every URL of the merchant and outlet areas, walked as owner, other tenant, wrong role and anonymous.

The walk fails when a pattern has no case below, so a page added later is covered the day it lands.
"""

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from tests.conftest import (
    make_courier,
    make_merchant,
    make_order,
    make_outlet,
    make_outlet_user,
    make_parcel,
    make_shop,
)

MERCHANT_NAMESPACES = {"shop", "aftersales", "interception", "settlement"}
OUTLET_NAMESPACES = {"outlet"}


@dataclass
class World:
    """Two shops and two outlets; `mine` objects belong to shop A / outlet A."""

    shop_a: object
    shop_b: object
    merchant_a: object
    merchant_b: object
    outlet_a: object
    outlet_b: object
    outlet_user_a: object
    outlet_user_b: object
    order_a: object
    parcel_a: object


@dataclass(frozen=True)
class Case:
    kwargs: Callable[[World], dict] = lambda world: {}
    # For list pages (no object in the URL): a text of tenant A's that tenant B must not see.
    secret: Callable[[World], str] | None = None


CASES: dict[str, Case] = {
    "shop:order-list": Case(secret=lambda w: w.order_a.order_no),
    "shop:order-detail": Case(kwargs=lambda w: {"order_no": w.order_a.order_no}),
    "aftersales:workbench": Case(),
    "interception:home": Case(),
    "settlement:home": Case(),
    "outlet:portal": Case(secret=lambda w: w.outlet_a.code),
}


def _walk(patterns, namespace=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, pattern.namespace or namespace)
        elif isinstance(pattern, URLPattern) and pattern.name:
            yield namespace, f"{namespace}:{pattern.name}" if namespace else pattern.name


def area_url_names(namespaces: set[str]) -> list[str]:
    return sorted(name for ns, name in _walk(get_resolver().url_patterns) if ns in namespaces)


MERCHANT_URLS = area_url_names(MERCHANT_NAMESPACES)
OUTLET_URLS = area_url_names(OUTLET_NAMESPACES)


@pytest.fixture
def world(db) -> World:
    shop_a, shop_b = make_shop("shop-a"), make_shop("shop-b")
    yto = make_courier("YTO")
    outlet_a, outlet_b = make_outlet(yto, code="YTO-SH-101"), make_outlet(yto, code="YTO-GZ-202")
    order_a = make_order(shop_a, order_no="O-SECRET-A")
    return World(
        shop_a=shop_a,
        shop_b=shop_b,
        merchant_a=make_merchant(shop_a),
        merchant_b=make_merchant(shop_b),
        outlet_a=outlet_a,
        outlet_b=outlet_b,
        outlet_user_a=make_outlet_user(outlet_a),
        outlet_user_b=make_outlet_user(outlet_b),
        order_a=order_a,
        parcel_a=make_parcel(order_a, outlet=outlet_a, tracking_no="YT-SECRET-A"),
    )


def test_every_merchant_and_outlet_url_has_a_tenancy_case():
    missing = sorted(set(MERCHANT_URLS + OUTLET_URLS) - set(CASES))
    assert missing == [], f"add a tenancy case for: {missing}"
    assert MERCHANT_URLS and OUTLET_URLS


def _url(name: str, world: World) -> str:
    return reverse(name, kwargs=CASES[name].kwargs(world))


@pytest.mark.parametrize("name", MERCHANT_URLS + OUTLET_URLS)
def test_anonymous_visitor_is_sent_to_log_in(client, world, name):
    url = _url(name, world)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={url}"


@pytest.mark.parametrize("name", MERCHANT_URLS)
def test_merchant_page_opens_for_its_own_shop(client, world, name):
    client.force_login(world.merchant_a)
    response = client.get(_url(name, world))
    assert response.status_code == 200
    secret = CASES[name].secret
    if secret:
        assert secret(world) in response.content.decode()


@pytest.mark.parametrize("name", MERCHANT_URLS)
def test_merchant_of_another_shop_gets_404_or_sees_nothing_of_it(client, world, name):
    client.force_login(world.merchant_b)
    response = client.get(_url(name, world))
    case = CASES[name]
    if case.kwargs(world):
        assert response.status_code == 404
    else:
        assert response.status_code == 200
        if case.secret:
            assert case.secret(world) not in response.content.decode()


@pytest.mark.parametrize("name", MERCHANT_URLS)
def test_outlet_staff_cannot_open_merchant_pages(client, world, name):
    client.force_login(world.outlet_user_a)
    assert client.get(_url(name, world)).status_code == 403


@pytest.mark.parametrize("name", OUTLET_URLS)
def test_outlet_page_opens_for_its_own_outlet(client, world, name):
    client.force_login(world.outlet_user_a)
    response = client.get(_url(name, world))
    assert response.status_code == 200
    secret = CASES[name].secret
    if secret:
        assert secret(world) in response.content.decode()


@pytest.mark.parametrize("name", OUTLET_URLS)
def test_staff_of_another_outlet_gets_404_or_sees_nothing_of_it(client, world, name):
    client.force_login(world.outlet_user_b)
    response = client.get(_url(name, world))
    case = CASES[name]
    if case.kwargs(world):
        assert response.status_code == 404
    else:
        assert response.status_code == 200
        if case.secret:
            assert case.secret(world) not in response.content.decode()


@pytest.mark.parametrize("name", OUTLET_URLS)
def test_merchants_cannot_open_the_outlet_portal(client, world, name):
    client.force_login(world.merchant_a)
    assert client.get(_url(name, world)).status_code == 403
