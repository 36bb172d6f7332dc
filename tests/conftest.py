"""Shared fixtures only; the objects they return are built by the factories in tests/<app>/factories.py."""

from datetime import timedelta

import pytest

from shop.models import Courier, Outlet, Shop, User
from tests.shop.factories import EventsClient, make_courier, make_merchant, make_outlet, make_shop


@pytest.fixture
def events(client) -> EventsClient:
    return EventsClient(client)


@pytest.fixture
def shop(db) -> Shop:
    return make_shop("demo-shop", name="示例小店")


@pytest.fixture
def other_shop(db) -> Shop:
    return make_shop("demo-global", name="全球购小店", cross_border=True)


@pytest.fixture
def yto(db) -> Courier:
    return make_courier("YTO", name="圆通")


@pytest.fixture
def yto_outlet(yto) -> Outlet:
    return make_outlet(yto, code="YTO-SH-001")


@pytest.fixture
def merchant(shop) -> User:
    return make_merchant(shop, "merchant")


@pytest.fixture
def other_merchant(other_shop) -> User:
    return make_merchant(other_shop, "global")


@pytest.fixture
def later():
    return lambda dt, **kw: dt + timedelta(**kw)


@pytest.fixture(autouse=True)
def english_by_default():
    """Each test starts in English: a request served in Chinese must not leak its language onward."""
    from django.utils import translation

    translation.activate("en")
    yield
    translation.deactivate()
