"""The fee ledger: the shop's fees by month (Asia/Shanghai), courier and mode; the operators' payable page."""

from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse

from settlement import selectors
from settlement.selectors import FeeFilters
from tests.settlement.factories import make_charge
from tests.shop.factories import at, make_courier, make_operator, make_outlet


@pytest.fixture
def zto_outlet(db):
    return make_outlet(make_courier("ZTO", name="中通"), code="ZTO-SH-001")


@pytest.fixture
def fees(shop, other_shop, yto_outlet, zto_outlet):
    """October and November fees of the shop, and one of another shop."""
    make_charge(shop, yto_outlet, when=at("2026-10-01 00:00"), amount="2.50")
    make_charge(shop, yto_outlet, when=at("2026-10-31 23:59"), amount="2.50")  # 15:59 UTC: still October here
    make_charge(shop, yto_outlet, when=at("2026-10-12 08:00"), amount="3.00", mode="online")
    make_charge(shop, zto_outlet, when=at("2026-10-20 12:00"), amount="3.00", mode="online")
    make_charge(shop, zto_outlet, when=at("2026-11-01 00:00"), amount="3.00", mode="online")  # November here
    make_charge(other_shop, zto_outlet, when=at("2026-10-20 12:00"), amount="3.00", mode="online")


def rows(ledger):
    return [(r["month"], r["courier__code"], r["mode"], r["count"], r["total"]) for r in ledger.rows]


def test_fees_are_grouped_by_shanghai_month_courier_and_mode_in_one_query(shop, fees, django_assert_num_queries):
    with django_assert_num_queries(1):
        ledger = selectors.fee_ledger_for_shop(shop=shop)
    assert rows(ledger) == [
        (date(2026, 11, 1), "ZTO", "online", 1, Decimal("3.00")),
        (date(2026, 10, 1), "YTO", "offline", 2, Decimal("5.00")),
        (date(2026, 10, 1), "YTO", "online", 1, Decimal("3.00")),
        (date(2026, 10, 1), "ZTO", "online", 1, Decimal("3.00")),
    ]
    assert (ledger.count, ledger.total) == (5, Decimal("14.00"))
    assert [(m["mode"], m["count"], m["total"]) for m in ledger.by_mode()] == [
        ("online", 3, Decimal("9.00")),
        ("offline", 2, Decimal("5.00")),
    ]


@pytest.mark.parametrize(
    "filters, expected",
    [
        ({"month_from": date(2026, 11, 1)}, [("2026-11", "ZTO", "online")]),
        ({"month_to": date(2026, 10, 1), "mode": "offline"}, [("2026-10", "YTO", "offline")]),
        ({"courier": "YTO", "mode": "online"}, [("2026-10", "YTO", "online")]),
        ({"month_from": date(2026, 9, 1), "month_to": date(2026, 9, 1)}, []),
    ],
)
def test_fees_filter_by_month_range_courier_and_mode(shop, fees, filters, expected):
    if "courier" in filters:
        filters["courier"] = make_courier(filters["courier"])
    ledger = selectors.fee_ledger_for_shop(shop=shop, filters=FeeFilters(**filters))
    assert [(f"{r['month']:%Y-%m}", r["courier__code"], r["mode"]) for r in ledger.rows] == expected


def test_the_ledger_page_shows_rows_totals_and_nothing_of_other_shops(client, merchant, fees):
    client.force_login(merchant)
    response = client.get(reverse("settlement:fees"), {"month_from": "2026-10", "month_to": "2026-10"})
    page = response.content.decode()
    assert page.count('<tr data-month="2026-10"') == 3
    assert 'data-month="2026-11"' not in page
    assert '<tr id="fee-grand-total"><th>All</th><th class="num">4</th><th class="num">11.00</th></tr>' in page
    assert (
        '<tr data-mode="offline"><td>offline settlement</td><td class="num">2</td><td class="num">5.00</td></tr>'
        in page
    )


def test_the_other_shop_sees_only_its_own_fee(client, other_merchant, fees):
    client.force_login(other_merchant)
    ledger = client.get(reverse("settlement:fees")).context["ledger"]
    assert (ledger.count, ledger.total) == (1, Decimal("3.00"))


@pytest.mark.parametrize(
    "query, error",
    [
        ({"month_from": "2026-11", "month_to": "2026-10"}, "The first month must not be after the last month."),
        ({"month_from": "October"}, "Enter a month as YYYY-MM."),
        ({"courier": "NOPE"}, "Select a valid choice."),
    ],
)
def test_invalid_filters_say_why_and_show_no_rows(client, merchant, fees, query, error):
    client.force_login(merchant)
    response = client.get(reverse("settlement:fees"), query)
    assert error in response.content.decode()
    assert response.context["ledger"].rows == []


def test_operators_see_online_fees_payable_per_courier_platform_wide(client, fees, django_assert_num_queries):
    with django_assert_num_queries(1):
        ledger = selectors.online_payable_per_courier()
    assert rows(ledger) == [
        (date(2026, 11, 1), "ZTO", "online", 1, Decimal("3.00")),
        (date(2026, 10, 1), "YTO", "online", 1, Decimal("3.00")),
        (date(2026, 10, 1), "ZTO", "online", 2, Decimal("6.00")),
    ]
    client.force_login(make_operator())
    response = client.get(reverse("admin:settlement_statement_payable"), {"month_to": "2026-10"})
    assert response.status_code == 200
    assert [(e["code"], e["count"], e["total"]) for e in response.context["per_courier"]] == [
        ("YTO", 1, Decimal("3.00")),
        ("ZTO", 2, Decimal("6.00")),
    ]
    assert 'id="payable-total"' in response.content.decode()


def test_the_payable_page_is_for_operators_only(client, merchant):
    client.force_login(merchant)
    response = client.get(reverse("admin:settlement_statement_payable"))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
