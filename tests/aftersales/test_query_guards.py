"""The guards on the cost of the merchant's two busiest pages: a fixed number of queries per workbench
page (every quick view, a search, a filter, a page deep in the list) and per after-sale detail page.

Each number is what the page runs today, item by item in its test's comment; a change that adds one
fails here: either it is needed (raise the number and say why) or it is not. Counted the same on
SQLite and PostgreSQL. The workbench's cost does not depend on how many rows the shop has or on the
depth of the page (tests/aftersales/test_workbench.py, "pagination and the cost of a page").
"""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from aftersales import filters
from aftersales.models import AfterSale
from shop import keyset
from shop.models import Buyer, Parcel
from tests.aftersales.factories import make_after_sale_on_new_order

pytestmark = pytest.mark.django_db

# session · user with its shop (shop.backends) · the page's keys (two keyset segments: the rows with a
# deadline, then the closed ones) · the page's rows · the quick views' four counts in one query · the
# couriers of the filter · the rows' interception tags (interception's extension) · the buyers' stats
WORKBENCH_QUERIES = 9
# as a list page, plus the after-sale whose number the search text is (an exact match goes first)
SEARCH_QUERIES = WORKBENCH_QUERIES + 1


@pytest.fixture
def rows(shop, yto_outlet):
    now = timezone.now()
    return [
        make_after_sale_on_new_order(
            shop,
            no=f"AS-G{i:02d}",
            parcel_status=Parcel.Status.IN_TRANSIT if i % 2 else Parcel.Status.SIGNED,
            outlet=yto_outlet,
            tracking_no=f"YT-G{i:02d}",
            status=[AfterSale.Status.PENDING_MERCHANT, AfterSale.Status.REFUND_AFTER_REFUSAL][i % 2],
            deadline=now + timedelta(hours=2 + i),
            buyer=Buyer.objects.create(external_id=f"b-g{i}", nickname=f"买家{i}"),
            remark="<b>&\"'😀</b>",
        )
        for i in range(30)
    ]


def queries(client, url, params=None) -> int:
    client.get(url, params or {})  # warm: the session's first read and the per-process caches
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, params or {})
    assert response.status_code == 200
    return len(captured.captured_queries)


@pytest.mark.parametrize("view", [view.key for view in filters.QUICK_VIEWS])
def test_every_quick_view_costs_the_same_queries(client, merchant, rows, view):
    client.force_login(merchant)
    query = next(v for v in filters.QUICK_VIEWS if v.key == view).query
    assert queries(client, f"{reverse('aftersales:workbench')}?{query}") == WORKBENCH_QUERIES


def test_the_first_a_deep_and_a_filtered_page_cost_the_same_queries(client, merchant, rows):
    client.force_login(merchant)
    url = reverse("aftersales:workbench")
    deep = keyset.Cursor(rows[20].deadline, rows[20].pk).token
    assert queries(client, url) == WORKBENCH_QUERIES
    assert queries(client, url, {"after": deep, "per_page": 20}) == WORKBENCH_QUERIES
    assert queries(client, url, {"type": "refund_only", "amount_min": "10", "amount_max": "500"}) == WORKBENCH_QUERIES


def test_a_search_costs_the_parcel_lookup_more(client, merchant, rows):
    client.force_login(merchant)
    assert queries(client, reverse("aftersales:workbench"), {"q": "YT-G05"}) == SEARCH_QUERIES


def test_the_after_sale_detail_costs_fifteen_queries(client, merchant, rows):
    client.force_login(merchant)
    url = reverse("aftersales:after-sale-detail", kwargs={"after_sale_no": rows[1].after_sale_no})
    # session · user with its shop · the after-sale with order, line, buyer, parcel · its history ·
    # the order's parcels with courier and outlet · their lines · their tracking events · the
    # order's lines · evidence · the buyer's refund-only stats · the order's refunds (the line's are
    # among them) · notifications · the application facts (one COUNT … FILTER, for the card) · a live
    # interception of the parcel (the interception extension's detail action) · the after-sale's service
    # orders with courier, outlet and parcel (the interception extension's detail section)
    assert queries(client, url) == 15
