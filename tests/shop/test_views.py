from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from shop.models import Order, Parcel, TrackingEvent
from tests.shop.factories import at, make_courier, make_order, make_outlet, make_parcel


@pytest.fixture
def orders(shop, yto_outlet):
    jt_outlet = make_outlet(make_courier("JT", name="极兔"), code="JT-SH-001")
    preparing = make_order(shop, order_no="O-PREP", paid_at=at("2026-11-18 10:00"))
    in_transit = make_order(shop, order_no="O-TRANSIT", status=Order.Status.SHIPPED, paid_at=at("2026-11-19 10:00"))
    make_parcel(in_transit, outlet=yto_outlet, tracking_no="YT100", status=Parcel.Status.IN_TRANSIT)
    signed = make_order(shop, order_no="O-SIGNED", status=Order.Status.SHIPPED, paid_at=at("2026-11-20 23:30"))
    make_parcel(signed, outlet=jt_outlet, tracking_no="JT200", status=Parcel.Status.SIGNED)
    return {"preparing": preparing, "in_transit": in_transit, "signed": signed}


def order_numbers(response) -> list[str]:
    return [row.record.order_no for row in response.context["table"].paginated_rows]


def test_order_list_shows_the_shops_orders_newest_first(client, merchant, orders):
    client.force_login(merchant)
    response = client.get(reverse("shop:order-list"))
    assert response.status_code == 200
    assert order_numbers(response) == ["O-SIGNED", "O-TRANSIT", "O-PREP"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"status": "preparing"}, ["O-PREP"]),
        ({"courier": "JT"}, ["O-SIGNED"]),
        ({"parcel_status": "in_transit"}, ["O-TRANSIT"]),
        ({"q": "YT100"}, ["O-TRANSIT"]),
        ({"q": "O-PREP"}, ["O-PREP"]),
        ({"paid_from": "2026-11-19", "paid_to": "2026-11-19"}, ["O-TRANSIT"]),
        # 23:30 in Shanghai on the 20th is the 20th, although it is 15:30 UTC.
        ({"paid_from": "2026-11-20"}, ["O-SIGNED"]),
        ({"paid_to": "2026-11-18"}, ["O-PREP"]),
    ],
)
def test_order_list_filters(client, merchant, orders, query, expected):
    client.force_login(merchant)
    assert order_numbers(client.get(reverse("shop:order-list"), query)) == expected


def test_order_list_searches_buyer_nickname(client, merchant, orders):
    orders["signed"].buyer.nickname = "大橙子"
    orders["signed"].buyer.save()
    client.force_login(merchant)
    assert order_numbers(client.get(reverse("shop:order-list"), {"q": "橙子"})) == ["O-SIGNED"]


def test_order_list_sorts_by_paid_amount(client, merchant, shop):
    make_order(shop, order_no="O-CHEAP", lines=[{"paid_amount": "9.90"}])
    make_order(shop, order_no="O-DEAR", lines=[{"paid_amount": "999.00"}])
    client.force_login(merchant)
    response = client.get(reverse("shop:order-list"), {"sort": "-paid_amount"})
    assert order_numbers(response) == ["O-DEAR", "O-CHEAP"]


def test_order_list_runs_the_same_number_of_queries_for_5_or_25_orders(client, merchant, shop, yto_outlet):
    client.force_login(merchant)

    def count_queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(reverse("shop:order-list")).status_code == 200
        return len(ctx.captured_queries)

    for _ in range(5):
        make_parcel(make_order(shop, status=Order.Status.SHIPPED), outlet=yto_outlet)
    few = count_queries()
    for _ in range(20):
        make_parcel(make_order(shop, status=Order.Status.SHIPPED), outlet=yto_outlet)
    assert count_queries() == few


def test_order_list_paginates_25_per_page(client, merchant, shop):
    for i in range(30):
        make_order(shop, order_no=f"O-{i:03d}")
    client.force_login(merchant)
    first = client.get(reverse("shop:order-list"))
    second = client.get(reverse("shop:order-list"), {"page": 2})
    assert len(order_numbers(first)) == 25
    assert len(order_numbers(second)) == 5
    assert set(order_numbers(first)).isdisjoint(order_numbers(second))


def test_order_detail_shows_lines_parcels_and_the_tracking_timeline(client, merchant, orders):
    parcel = orders["in_transit"].parcels.get()
    TrackingEvent.objects.create(parcel=parcel, status="out_for_delivery", at=at("2026-11-21 08:00"), note="派送中")
    TrackingEvent.objects.create(
        parcel=parcel, status="collected", at=at("2026-11-20 08:00"), note="迟到的揽收", applied=False
    )
    client.force_login(merchant)
    response = client.get(reverse("shop:order-detail", kwargs={"order_no": "O-TRANSIT"}))
    html = response.content.decode()
    assert response.status_code == 200
    assert "YT100" in html
    assert "保温杯" in html
    assert "派送中" in html
    assert "迟到的揽收" in html
    assert html.index("派送中") < html.index("迟到的揽收")  # newest first
    assert response.context["order"].paid_amount == Decimal("100.00")


def test_order_detail_of_another_shop_is_404(client, other_merchant, orders):
    client.force_login(other_merchant)
    response = client.get(reverse("shop:order-detail", kwargs={"order_no": "O-TRANSIT"}))
    assert response.status_code == 404
