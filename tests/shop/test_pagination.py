"""Pager parameters never fail a page: every paginated page answers any `page` and `per_page`."""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from django_tables2 import SingleTableMixin

from shop import pagination
from tests import test_tenancy
from tests.test_tenancy import _url

world = test_tenancy.world  # the tenancy walk's fixture: two shops, two outlets

# Every page with a paginated table, and who opens it.
PAGED_URLS = {
    "shop:order-list": "merchant",
    "aftersales:workbench": "merchant",
    "interception:service-orders": "merchant",
    "interception:partnerships": "merchant",
    "settlement:statements": "merchant",
    "settlement:statement-detail": "merchant",
    "settlement:reconciliation-detail": "merchant",
    "settlement:claims": "merchant",
    "settlement:claim-tracker": "merchant",
    "outlet:service-orders": "outlet",
    "outlet:statements": "outlet",
    "outlet:statement-detail": "outlet",
    "outlet:claims": "outlet",
}
HOSTILE = [
    "per_page=-1",
    "per_page=0",
    "per_page=abc",
    f"per_page={10**20}",
    "page=-1",
    "page=0",
    "page=abc",
    "page=1e3",
    "page=",
    f"page={10**20}",
    f"page={'9' * 5000}",
    f"page={10**20}&per_page={10**20}",
    "page=2&per_page=-5",
    "page=\u0663",  # an Arabic-Indic digit: int() reads it, a pager must not care
    f"after=-.{10**20}",
    f"before={'9' * 30}.1",
    f"after=1.{2**63}",
    "sort=nonexistent",
    "sort=-",
]


def _views(patterns, namespace=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _views(pattern.url_patterns, pattern.namespace or namespace)
        elif isinstance(pattern, URLPattern) and pattern.name:
            yield (
                f"{namespace}:{pattern.name}" if namespace else pattern.name,
                getattr(pattern.callback, "view_class", None),
            )


# Keyset pages (no page number): their page size still goes through shop.pagination.page_size.
KEYSET_URLS = {"aftersales:workbench"}


def test_every_page_with_a_table_uses_the_shared_pager_and_is_tested_here():
    views = _views(get_resolver().url_patterns)
    tabled = {name: view for name, view in views if view and issubclass(view, SingleTableMixin)}

    unshared = [name for name, view in tabled.items() if not issubclass(view, pagination.PagedTableMixin)]
    assert sorted(set(unshared) - KEYSET_URLS) == []
    assert sorted(set(tabled) - set(PAGED_URLS)) == []


@pytest.mark.parametrize("query", HOSTILE)
@pytest.mark.parametrize("name", sorted(PAGED_URLS))
def test_a_hostile_pager_parameter_still_gets_a_page(client, world, name, query):
    client.force_login(world.merchant_a if PAGED_URLS[name] == "merchant" else world.outlet_user_a)

    response = client.get(f"{_url(name, world)}?{query}")

    assert response.status_code == 200


@pytest.mark.parametrize(
    "value, expected",
    [(None, 1), ("", 1), ("abc", 1), ("-1", 1), ("0", 1), ("1", 1), (" 7 ", 7), ("1e3", 1), ("\u0663", 1)]
    + [(str(10**20), pagination.MAX_PAGE), ("9" * 5000, pagination.MAX_PAGE), (3, 3)],
)
def test_page_number_is_a_page_from_one_to_the_deepest(value, expected):
    assert pagination.page_number(value) == expected


@pytest.mark.parametrize(
    "value, expected",
    [(None, 25), ("abc", 25), ("-1", 25), ("0", 25), ("10", 10), ("100", 100), ("101", 100), (str(10**20), 100)],
)
def test_page_size_is_the_default_for_nonsense_and_at_most_the_largest(value, expected):
    assert pagination.page_size(value) == expected


def test_page_size_with_choices_is_one_of_them_or_the_default():
    assert [pagination.page_size(v, default=50, choices=(20, 50, 100)) for v in ("20", "30", "100", "-1")] == [
        20,
        50,
        100,
        50,
    ]
