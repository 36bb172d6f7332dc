"""The after-sales workbench: filters, search, order, countdowns, tags, quick views, bulk flag and remark."""

import html as html_lib
import itertools
import re
from datetime import timedelta
from decimal import Decimal
from urllib.parse import parse_qsl

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from aftersales import filters, selectors
from aftersales.models import AfterSale, AfterSaleLog
from shop import keyset
from shop.models import Buyer, Order, OrderLine, Parcel
from tests.aftersales.factories import make_after_sale_on_new_order
from tests.shop.factories import at, make_courier, make_merchant, make_outlet

S = AfterSale.Status
_seq = itertools.count(1)
UNSET = object()


def in_hours(hours: float, minutes: float = 0) -> timezone.datetime:
    # Half a minute of slack so that the countdown shown a moment later still reads the same.
    return timezone.now() + timedelta(hours=hours, minutes=minutes, seconds=30)


@pytest.fixture
def en(client):
    """Pages in English, whatever the default language: the assertions read the English labels."""
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


@pytest.fixture
def jt_outlet(db):
    return make_outlet(make_courier("JT", name="极兔"), code="JT-SH-001")


@pytest.fixture
def rows(shop, other_shop, yto_outlet, jt_outlet):
    """Eight after-sales of the demo shop, one of each kind the filters tell apart, and one elsewhere."""
    orange = Buyer.objects.create(external_id="buyer-orange", nickname="大橙子")
    made = {
        "AS-PENDING": make_after_sale_on_new_order(
            shop,
            no="AS-PENDING",
            parcel_status=Parcel.Status.IN_TRANSIT,
            outlet=yto_outlet,
            tracking_no="YT-TRANSIT-1",
            deadline=in_hours(30),
            amount="50.00",
            applied_at=at("2026-11-19 10:00"),
            buyer=orange,
        ),
        "AS-REFUSAL": make_after_sale_on_new_order(
            shop,
            no="AS-REFUSAL",
            status=S.REFUND_AFTER_REFUSAL,
            parcel_status=Parcel.Status.COLLECTED,
            outlet=yto_outlet,
            deadline=in_hours(5, 12),
            amount="129.00",
            applied_at=at("2026-11-20 23:30"),
        ),
        "AS-RETURN": make_after_sale_on_new_order(
            shop,
            no="AS-RETURN",
            status=S.AWAITING_BUYER_RETURN,
            type=AfterSale.Type.RETURN_REFUND,
            reason=AfterSale.Reason.QUALITY,
            parcel_status=Parcel.Status.SIGNED,
            outlet=jt_outlet,
            tracking_no="JT-SIGNED-1",
            deadline=in_hours(100),
            amount="300.00",
            flag=AfterSale.Flag.RED,
            remark="call the buyer",
            multi_refund=True,
            sequence=2,
            # 07:00 in Shanghai on the 21st is still the 20th in UTC.
            applied_at=at("2026-11-21 07:00"),
        ),
        "AS-PRICE": make_after_sale_on_new_order(
            shop,
            no="AS-PRICE",
            status=S.REFUNDED,
            type=AfterSale.Type.PRICE_PROTECTION,
            reason=AfterSale.Reason.PRICE_DROP,
            amount="10.00",
            refunded="10.00",
            applied_at=at("2026-11-18 12:00"),
        ),
        "AS-REFUSED": make_after_sale_on_new_order(
            shop,
            no="AS-REFUSED",
            order_no="O-REFUSED",
            parcel_status=Parcel.Status.REFUSED,
            outlet=jt_outlet,
            deadline=in_hours(11),
            amount="80.00",
            flag=AfterSale.Flag.BLUE,
            applied_at=at("2026-11-21 09:00"),
        ),
        "AS-INTERCEPTED": make_after_sale_on_new_order(
            shop,
            no="AS-INTERCEPTED",
            status=S.REFUND_AFTER_REFUSAL,
            parcel_status=Parcel.Status.RETURNING,
            outlet=yto_outlet,
            deadline=in_hours(60),
            amount="60.00",
            applied_at=at("2026-11-19 12:00"),
            buyer=orange,
        ),
        "AS-RETURNED": make_after_sale_on_new_order(
            shop,
            no="AS-RETURNED",
            status=S.REJECTED,
            reason=AfterSale.Reason.DAMAGED,
            parcel_status=Parcel.Status.RETURNED,
            outlet=yto_outlet,
            amount="70.00",
            applied_at=at("2026-11-17 10:00"),
        ),
        "AS-OUT": make_after_sale_on_new_order(
            shop,
            no="AS-OUT",
            reason=AfterSale.Reason.NO_LONGER_NEEDED,
            parcel_status=Parcel.Status.OUT_FOR_DELIVERY,
            outlet=yto_outlet,
            deadline=in_hours(13),
            amount="999.99",
            applied_at=at("2026-11-21 10:00"),
        ),
    }
    made["AS-OTHER"] = make_after_sale_on_new_order(
        other_shop, no="AS-OTHER", parcel_status=Parcel.Status.IN_TRANSIT, outlet=yto_outlet, deadline=in_hours(1)
    )
    return made


def listed(response) -> list[str]:
    assert response.status_code == 200
    return [row.record.after_sale_no for row in response.context["table"].paginated_rows]


def workbench(client, query=None):
    return client.get(reverse("aftersales:workbench"), query or {})


# --- listing, order, filters, search -------------------------------------------------------------
def test_workbench_lists_what_times_out_first_and_closed_ones_last(client, merchant, rows):
    client.force_login(merchant)
    assert listed(workbench(client)) == [
        "AS-REFUSAL",
        "AS-REFUSED",
        "AS-OUT",
        "AS-PENDING",
        "AS-INTERCEPTED",
        "AS-RETURN",
        "AS-PRICE",
        "AS-RETURNED",
    ]


def test_equal_deadlines_keep_the_order_they_were_created_in(client, merchant, shop):
    deadline = in_hours(3)
    for no in ("AS-B", "AS-A", "AS-C"):
        make_after_sale_on_new_order(shop, no=no, deadline=deadline)
    client.force_login(merchant)
    assert listed(workbench(client)) == ["AS-B", "AS-A", "AS-C"]


def test_sorting_by_time_left_descending_keeps_closed_ones_last(client, merchant, rows):
    client.force_login(merchant)
    assert listed(workbench(client, {"sort": "-deadline"})) == [
        "AS-RETURN",
        "AS-INTERCEPTED",
        "AS-PENDING",
        "AS-OUT",
        "AS-REFUSED",
        "AS-REFUSAL",
        "AS-RETURNED",
        "AS-PRICE",
    ]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"status": "pending_merchant"}, ["AS-REFUSED", "AS-OUT", "AS-PENDING"]),
        ({"status": "refund_after_refusal"}, ["AS-REFUSAL", "AS-INTERCEPTED"]),
        ({"status": "open"}, ["AS-REFUSAL", "AS-REFUSED", "AS-OUT", "AS-PENDING", "AS-INTERCEPTED", "AS-RETURN"]),
        ({"status": "refunded"}, ["AS-PRICE"]),
        ({"type": "return_refund"}, ["AS-RETURN"]),
        ({"type": "price_protection"}, ["AS-PRICE"]),
        ({"reason": "damaged"}, ["AS-RETURNED"]),
        ({"reason": "no_longer_needed"}, ["AS-OUT"]),
        # In transit: collected, in transit and out for delivery alike.
        ({"logistics": "in_transit"}, ["AS-REFUSAL", "AS-OUT", "AS-PENDING"]),
        ({"logistics": "refused"}, ["AS-REFUSED"]),
        ({"logistics": "signed"}, ["AS-RETURN"]),
        ({"logistics": "intercepted"}, ["AS-INTERCEPTED"]),
        ({"logistics": "returned"}, ["AS-RETURNED"]),
        ({"courier": "JT"}, ["AS-REFUSED", "AS-RETURN"]),
        ({"flag": "red"}, ["AS-RETURN"]),
        ({"flag": "none"}, ["AS-REFUSAL", "AS-OUT", "AS-PENDING", "AS-INTERCEPTED", "AS-PRICE", "AS-RETURNED"]),
        ({"multi_refund": "1"}, ["AS-RETURN"]),
        (
            {"multi_refund": "0"},
            ["AS-REFUSAL", "AS-REFUSED", "AS-OUT", "AS-PENDING", "AS-INTERCEPTED", "AS-PRICE", "AS-RETURNED"],
        ),
        ({"deadline_within": "12"}, ["AS-REFUSAL", "AS-REFUSED"]),
        ({"deadline_within": "14"}, ["AS-REFUSAL", "AS-REFUSED", "AS-OUT"]),
        ({"amount_min": "100"}, ["AS-REFUSAL", "AS-OUT", "AS-RETURN"]),
        ({"amount_max": "60"}, ["AS-PENDING", "AS-INTERCEPTED", "AS-PRICE"]),
        ({"amount_min": "60", "amount_max": "80"}, ["AS-REFUSED", "AS-INTERCEPTED", "AS-RETURNED"]),
        ({"applied_from": "2026-11-20", "applied_to": "2026-11-20"}, ["AS-REFUSAL"]),
        ({"applied_from": "2026-11-21"}, ["AS-REFUSED", "AS-OUT", "AS-RETURN"]),
        ({"applied_to": "2026-11-18"}, ["AS-PRICE", "AS-RETURNED"]),
        (
            {"status": "open", "type": "refund_only", "courier": "YTO"},
            ["AS-REFUSAL", "AS-OUT", "AS-PENDING", "AS-INTERCEPTED"],
        ),
    ],
)
def test_workbench_filters(client, merchant, rows, query, expected):
    client.force_login(merchant)
    assert listed(workbench(client, query)) == expected


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("AS-OUT", ["AS-OUT"]),
        ("O-REFUSED", ["AS-REFUSED"]),
        ("JT-SIGNED-1", ["AS-RETURN"]),
        ("YT-TRANSIT-1", ["AS-PENDING"]),
        ("大橙子", ["AS-PENDING", "AS-INTERCEPTED"]),
        ("橙子", []),  # a whole nickname, as copied from the chat: a part would need a scan of all buyers
        ("buyer-orange", ["AS-PENDING", "AS-INTERCEPTED"]),
        ("  AS-OUT  ", ["AS-OUT"]),
        ("AS-OTHER", []),
        ("nobody", []),
    ],
)
def test_workbench_search(client, merchant, rows, q, expected):
    client.force_login(merchant)
    assert listed(workbench(client, {"q": q})) == expected


def test_an_invalid_filter_lists_nothing_rather_than_everything(client, merchant, rows):
    client.force_login(merchant)
    assert listed(workbench(client, {"courier": "NOPE"})) == []
    assert listed(workbench(client, {"deadline_within": "-3"})) == []


def test_another_shops_after_sales_never_show(client, other_merchant, rows):
    client.force_login(other_merchant)
    response = workbench(client)
    assert listed(response) == ["AS-OTHER"]
    assert "AS-PENDING" not in response.content.decode()


# --- what a row shows ----------------------------------------------------------------------------
def test_rows_show_countdown_tags_parcel_flag_and_detail_link(en, merchant, rows):
    en.force_login(merchant)
    html = workbench(en).content.decode()
    assert "5 h 12 min" in html  # AS-REFUSAL
    assert "4 d 4 h" in html  # AS-RETURN, 100 hours
    assert '<span class="tag tag-refusal">Refund after refusal</span>' in html
    assert '<span class="tag tag-seq">Application #2</span>' in html
    assert '<span class="tag tag-multi">Repeat refund</span>' in html
    assert "JT-SIGNED-1" in html and '<span class="badge badge-signed">signed</span>' in html
    assert '<span class="flag-dot flag-red" title="red" aria-label="red"></span>' in html
    assert "call the buyer" in html
    assert f'href="{reverse("aftersales:after-sale-detail", kwargs={"after_sale_no": "AS-OUT"})}"' in html
    assert f'name="version_{rows["AS-OUT"].pk}" value="1"' in html


def test_an_overdue_deadline_reads_timed_out(en, merchant, shop):
    make_after_sale_on_new_order(shop, no="AS-LATE", deadline=timezone.now() - timedelta(minutes=5))
    en.force_login(merchant)
    html = workbench(en).content.decode()
    assert '<span class="countdown overdue"' in html
    assert ">timed out<" in html


def test_buyer_shows_the_refund_abuse_hint_highlighted_above_the_threshold(en, merchant, shop, settings):
    settings.AFTERSALES_ABUSE_THRESHOLD_COUNT = 3
    greedy = Buyer.objects.create(external_id="greedy", nickname="羊毛")
    recent = timezone.now() - timedelta(days=1)  # the 90 days count back from today, whatever day it is
    for _ in range(3):  # three refund-only requests in 90 days reach the threshold
        make_after_sale_on_new_order(
            shop, buyer=greedy, status=S.REFUNDED, amount="40.00", refunded="40.00", applied_at=recent
        )
    calm = Buyer.objects.create(external_id="calm", nickname="安静")
    make_after_sale_on_new_order(shop, no="AS-CALM", buyer=calm, applied_at=recent)
    en.force_login(merchant)
    html = workbench(en).content.decode()
    assert "90 d refund-only: 3 · 120.00 yuan" in html
    assert html.count('class="abuse flagged"') == 3
    assert "90 d refund-only: 1 · 0.00 yuan" in html


# --- quick views ---------------------------------------------------------------------------------
def quick(response) -> dict[str, tuple[str, bool]]:
    return {item.view.key: (item.display, item.active) for item in response.context["quick_views"]}


def test_quick_views_count_the_shops_after_sales(client, merchant, rows):
    client.force_login(merchant)
    assert quick(workbench(client)) == {
        "pending": ("3", False),
        "refusal": ("2", False),
        "signed_refund_only": ("0", False),
        "in_transit_refund_only": ("3", False),
        "about_to_time_out": ("2", False),
    }


def test_a_quick_view_link_lists_what_it_counts_and_is_marked_active(client, merchant, rows):
    client.force_login(merchant)
    for view in filters.QUICK_VIEWS:
        response = client.get(f"{reverse('aftersales:workbench')}?{view.query}")
        counted = quick(response)[view.key]
        assert counted == (str(len(listed(response))), True)
    view = next(view for view in filters.QUICK_VIEWS if view.key == "in_transit_refund_only")
    in_transit = client.get(f"{reverse('aftersales:workbench')}?{view.query}")
    assert listed(in_transit) == ["AS-REFUSAL", "AS-OUT", "AS-PENDING"]


def test_quick_view_counts_stop_at_99_then_are_asked_for_up_to_9999(client, merchant, shop):
    buyer = Buyer.objects.create(external_id="many", nickname="多")
    orders = Order.objects.bulk_create(
        Order(shop=shop, buyer=buyer, order_no=f"O-BULK-{i}", status="shipped", paid_amount=Decimal("50.00"))
        for i in range(200)
    )
    lines = OrderLine.objects.bulk_create(
        OrderLine(order=order, line_no=str(n), title="杯", category="home", quantity=1, paid_amount=Decimal("10.00"))
        for order in orders
        for n in range(1, 6)
    )
    deadline = in_hours(40)
    AfterSale.objects.bulk_create(
        AfterSale(
            shop=shop,
            order_id=line.order_id,
            line=line,
            buyer=buyer,
            after_sale_no=f"AS-BULK-{line.pk}",
            type="refund_only",
            reason="other",
            amount=Decimal("5.00"),
            sequence=int(line.line_no),
            deadline=deadline,
            applied_at=at("2026-11-21 10:00"),
        )
        for line in lines
    )
    client.force_login(merchant)
    with CaptureQueriesContext(connection) as queries:
        response = workbench(client)
    assert quick(response)["pending"] == ("99+", False)
    assert quick(response)["refusal"] == ("0", False)
    counts = [q["sql"] for q in queries.captured_queries if "COUNT(*)" in q["sql"].upper()]
    assert len(counts) == 1  # one round trip for the five views, each counted over at most 100 rows
    assert counts[0].count("LIMIT 100)") == 5
    assert 'data-quick-view="pending" data-capped="true">99+<' in response.content.decode()

    # Asked for again once the page shows: the exact count, up to 9999, in one query.
    with CaptureQueriesContext(connection) as queries:
        full = client.get(reverse("aftersales:quick-counts"))
    assert full.json() == {
        "pending": "1000",
        "refusal": "0",
        "signed_refund_only": "0",
        "in_transit_refund_only": "0",
        "about_to_time_out": "0",
    }
    counts = [q["sql"] for q in queries.captured_queries if "COUNT(*)" in q["sql"].upper()]
    assert len(counts) == 1 and counts[0].count("LIMIT 10000)") == 5


# --- pagination and the cost of a page -----------------------------------------------------------
@pytest.fixture
def hundred(shop, yto_outlet):
    return [
        make_after_sale_on_new_order(
            shop,
            parcel_status=Parcel.Status.IN_TRANSIT,
            outlet=yto_outlet,
            deadline=in_hours(1 + i),
            buyer=Buyer.objects.create(external_id=f"b-many-{i}", nickname=f"买家{i}"),
            flag=AfterSale.Flag.GREEN,
            remark="ok",
        )
        for i in range(101)
    ]


def page_queries(client, per_page: int) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = workbench(client, {"per_page": per_page})
    assert len(listed(response)) == per_page
    return len(queries.captured_queries)


def test_a_page_costs_the_same_number_of_queries_whatever_its_size(client, merchant, hundred):
    client.force_login(merchant)
    workbench(client)  # warm the session
    assert page_queries(client, 20) == page_queries(client, 100)


def next_link(response, rel="next") -> dict[str, str] | None:
    """The querystring of the pager's link with this rel, as a dict, or None."""
    found = re.search(rf'<a href="\?([^"]*)" rel="{rel}">', response.content.decode())
    return dict(parse_qsl(html_lib.unescape(found.group(1)))) if found else None


def walk(client, query, rel="next"):
    """Follow the pager's links from `query`: the pages listed, and the queries each page ran."""
    pages, counts = [], []
    while query is not None:
        with CaptureQueriesContext(connection) as queries:
            response = workbench(client, query)
        pages.append(listed(response))
        counts.append(len(queries.captured_queries))
        query = next_link(response, rel)
    return pages, counts


def test_following_next_lists_every_row_once_in_order_at_the_same_cost(client, merchant, hundred):
    client.force_login(merchant)
    workbench(client)  # warm the session
    pages, counts = walk(client, {"per_page": 20})
    assert [len(page) for page in pages] == [20, 20, 20, 20, 20, 1]
    assert sum(pages, []) == [a.after_sale_no for a in hundred]
    # Every full page costs what page 1 costs (no OFFSET, no COUNT(*)); the last one reads the
    # closed after-sales' segment too, once, since the rows with a deadline ran out on it.
    assert counts[1:5] == [counts[0]] * 4 and counts[5] == counts[0] + 1


def test_following_previous_walks_back_to_the_first_page(client, merchant, hundred):
    client.force_login(merchant)
    forward, _ = walk(client, {"per_page": 20})
    last = keyset.Cursor(hundred[99].deadline, hundred[99].pk).token
    response = workbench(client, {"per_page": 20, "after": last})
    assert listed(response) == forward[5]
    backward, counts = walk(client, next_link(response, "prev"), rel="prev")
    assert backward == forward[4::-1]
    assert len(set(counts)) == 1  # walking back from the end, no page is short


def test_no_page_counts_all_rows(client, merchant, hundred):
    client.force_login(merchant)
    with CaptureQueriesContext(connection) as queries:
        workbench(client, {"per_page": 20})
    assert all("LIMIT" in q["sql"] for q in queries.captured_queries if "COUNT(*)" in q["sql"].upper())
    assert not any("OFFSET" in q["sql"].upper() for q in queries.captured_queries)


def test_an_unlisted_page_size_falls_back_to_50(client, merchant, hundred):
    client.force_login(merchant)
    assert len(listed(workbench(client, {"per_page": 100000}))) == 50
    assert len(listed(workbench(client, {"per_page": "x"}))) == 50
    assert len(listed(workbench(client))) == 50


@pytest.mark.parametrize("cursor", ["", "x", "1.", ".5", "abc.5", "1.x", "99999999999999999999999.1", "1.2.3"])
def test_a_cursor_that_cannot_be_read_lists_the_first_page(client, merchant, hundred, cursor):
    client.force_login(merchant)
    first = listed(workbench(client, {"per_page": 20}))
    assert listed(workbench(client, {"per_page": 20, "after": cursor})) == first
    assert listed(workbench(client, {"per_page": 20, "before": cursor})) == first


def test_the_pager_offers_the_page_sizes_and_a_next_page(client, merchant, hundred):
    client.force_login(merchant)
    response = workbench(client, {"status": "pending_merchant", "per_page": 20})
    html = response.content.decode()
    assert '<a href="?status=pending_merchant&amp;per_page=50">50</a>' in html
    assert '<a href="?status=pending_merchant&amp;per_page=100">100</a>' in html
    assert "<strong>20</strong>" in html
    twentieth = hundred[19]
    token = keyset.Cursor(twentieth.deadline, twentieth.pk).token
    assert next_link(response) == {"status": "pending_merchant", "per_page": "20", "after": token}
    assert next_link(response, "prev") is None and 'rel="first"' not in html
    second = workbench(client, next_link(response))
    assert next_link(second, "first") == {"status": "pending_merchant", "per_page": "20"}


def test_last_page_has_no_next_link(client, merchant, hundred):
    client.force_login(merchant)
    after = keyset.Cursor(hundred[99].deadline, hundred[99].pk).token
    response = workbench(client, {"per_page": 50, "after": after})
    assert listed(response) == [hundred[100].after_sale_no]
    assert 'rel="next"' not in response.content.decode()


@pytest.fixture
def mixed(shop, yto_outlet):
    """Seven open after-sales with deadlines and six closed ones without: two segments to walk across."""
    open_ones = [
        make_after_sale_on_new_order(shop, deadline=in_hours(1 + i % 3)) for i in range(7)
    ]  # shared deadlines too
    closed = [
        make_after_sale_on_new_order(
            shop, status=AfterSale.Status.REFUNDED, deadline=None, parcel_status=Parcel.Status.SIGNED
        )
        for _ in range(6)
    ]
    return open_ones, closed


@pytest.mark.parametrize("sort", ["deadline", "-deadline"])
def test_pages_cross_from_deadlines_to_closed_ones_both_ways(client, merchant, mixed, sort):
    client.force_login(merchant)
    open_ones, closed = mixed
    descending = sort.startswith("-")
    expected = sorted(open_ones, key=lambda a: (a.deadline, a.pk), reverse=descending) + sorted(
        closed, key=lambda a: a.pk, reverse=descending
    )
    pages, _ = walk(client, {"per_page": 20, "sort": sort})
    assert sum(pages, []) == [a.after_sale_no for a in expected]
    # Page size 20 is the smallest offered: walk a 3-row page size through the keyset itself.
    queryset = selectors.after_sales_for_shop(shop=merchant.shop)
    rows, page = [], keyset.paginate(queryset, field="deadline", descending=descending, per_page=3)
    trail = [page]
    rows += page.rows
    while page.next_cursor:
        page = keyset.paginate(queryset, field="deadline", descending=descending, per_page=3, after=page.next_cursor)
        trail.append(page)
        rows += page.rows
    assert [a.pk for a in rows] == [a.pk for a in expected]
    assert [len(p.rows) for p in trail] == [3, 3, 3, 3, 1]
    back = []
    while page.previous_cursor:
        page = keyset.paginate(
            queryset, field="deadline", descending=descending, per_page=3, before=page.previous_cursor
        )
        back.append([a.pk for a in page.rows])
    assert back == [[a.pk for a in p.rows] for p in trail[-2::-1]]


# --- bulk flag and remark ------------------------------------------------------------------------
def bulk(client, after_sales, *, versions=None, query="", **fields):
    data = {"ids": [a.pk for a in after_sales], **fields}
    for a in after_sales:
        data[f"version_{a.pk}"] = (versions or {}).get(a.pk, a.version)
    url = reverse("aftersales:bulk-flag") + (f"?{query}" if query else "")
    return client.post(url, data)


def state(*after_sales):
    return [
        AfterSale.objects.values_list("after_sale_no", "flag", "remark", "version").get(pk=a.pk) for a in after_sales
    ]


def messages_of(client, response) -> list[tuple[str, str]]:
    followed = client.get(response["Location"])
    return [(m.level_tag, m.message) for m in followed.context["messages"]]


def test_bulk_flag_and_remark_update_every_ticked_row(en, merchant, rows):
    en.force_login(merchant)
    chosen = [rows["AS-PENDING"], rows["AS-OUT"]]
    response = bulk(en, chosen, flag="yellow", remark="拦截 11-22", query="status=pending_merchant&page=1")

    assert response.status_code == 302
    assert response["Location"] == reverse("aftersales:workbench") + "?status=pending_merchant&page=1"
    assert state(*chosen) == [("AS-PENDING", "yellow", "拦截 11-22", 2), ("AS-OUT", "yellow", "拦截 11-22", 2)]
    assert state(rows["AS-REFUSED"]) == [("AS-REFUSED", "blue", "", 1)]
    assert messages_of(en, response) == [("success", "2 after-sales updated.")]
    logs = AfterSaleLog.objects.filter(after_sale__in=chosen).values_list("action", "user__username")
    assert sorted(logs) == [("flag", "merchant"), ("flag", "merchant"), ("remark", "merchant"), ("remark", "merchant")]


def test_bulk_can_remove_the_flag_and_clear_the_remark(client, merchant, rows):
    client.force_login(merchant)
    bulk(client, [rows["AS-RETURN"]], flag="none", clear_remark="on")
    assert state(rows["AS-RETURN"]) == [("AS-RETURN", "", "", 2)]


def test_bulk_keeps_the_flag_when_only_a_remark_is_given(client, merchant, rows):
    client.force_login(merchant)
    bulk(client, [rows["AS-RETURN"]], flag="", remark="回访")
    assert state(rows["AS-RETURN"]) == [("AS-RETURN", "red", "回访", 2)]


def test_bulk_flag_is_refused_for_all_when_one_row_is_stale_and_nothing_changes(en, merchant, rows):
    en.force_login(merchant)
    stale = rows["AS-OUT"]
    AfterSale.objects.filter(pk=stale.pk).update(version=2)  # someone acted since the page was opened
    before = state(rows["AS-PENDING"], stale)

    response = bulk(en, [rows["AS-PENDING"], stale], versions={stale.pk: 1}, flag="red", query="q=AS")

    assert response["Location"] == reverse("aftersales:workbench") + "?q=AS"
    assert state(rows["AS-PENDING"], stale) == before
    assert not AfterSaleLog.objects.exists()
    assert messages_of(en, response) == [
        ("error", "After-sale AS-OUT changed since you opened the page; nothing was done. Reload and try again.")
    ]


def test_bulk_flag_of_another_shops_after_sale_changes_nothing(en, other_merchant, rows):
    en.force_login(other_merchant)
    before = state(rows["AS-PENDING"], rows["AS-OTHER"])
    response = bulk(en, [rows["AS-OTHER"], rows["AS-PENDING"]], flag="red", remark="mine now")
    assert state(rows["AS-PENDING"], rows["AS-OTHER"]) == before
    assert not AfterSaleLog.objects.exists()
    assert messages_of(en, response) == [("error", "After-sale not found.")]


def test_bulk_flag_with_nothing_ticked_says_so(en, merchant, rows):
    en.force_login(merchant)
    response = bulk(en, [], flag="red")
    assert messages_of(en, response) == [("error", "Select at least one after-sale.")]


def test_bulk_flag_with_neither_flag_nor_remark_says_so(en, merchant, rows):
    en.force_login(merchant)
    response = bulk(en, [rows["AS-OUT"]])
    assert messages_of(en, response) == [("error", "Choose a flag or write a remark.")]
    assert state(rows["AS-OUT"]) == [("AS-OUT", "", "", 1)]


def test_bulk_flag_with_a_missing_version_changes_nothing(en, merchant, rows):
    en.force_login(merchant)
    response = en.post(reverse("aftersales:bulk-flag"), {"ids": [rows["AS-OUT"].pk], "flag": "red"})
    assert messages_of(en, response) == [("error", "The selection could not be read. Reload the page and try again.")]
    assert state(rows["AS-OUT"]) == [("AS-OUT", "", "", 1)]


def test_bulk_flag_refuses_get(client, merchant):
    client.force_login(merchant)
    assert client.get(reverse("aftersales:bulk-flag")).status_code == 405


def test_the_page_works_without_javascript_and_loads_no_inline_script(client, merchant, rows):
    client.force_login(merchant)
    html = workbench(client).content.decode()
    assert '<script src="/static/js/workbench.js" defer></script>' in html
    assert "<script>" not in html
    assert 'class="js-select-all" aria-label' in html and " hidden>" in html
    assert f'action="{reverse("aftersales:bulk-flag")}"' in html
    assert html.count('id="id_flag"') == 1 and html.count('id="id_bulk_flag"') == 1  # two forms, distinct ids


def test_a_second_merchant_of_the_same_shop_sees_the_same_rows(client, shop, rows):
    agent = make_merchant(shop, "agent", role="agent")
    client.force_login(agent)
    assert len(listed(workbench(client))) == 8


def test_a_withdrawn_request_does_not_count_towards_the_abuse_hint(en, merchant, shop, settings):
    settings.AFTERSALES_ABUSE_THRESHOLD_COUNT = 2
    buyer = Buyer.objects.create(external_id="undecided", nickname="犹豫")
    recent = timezone.now() - timedelta(days=1)
    make_after_sale_on_new_order(shop, no="AS-W1", buyer=buyer, status=S.CANCELLED, applied_at=recent)
    make_after_sale_on_new_order(shop, no="AS-W2", buyer=buyer, applied_at=recent)
    en.force_login(merchant)
    html = workbench(en).content.decode()
    assert "90 d refund-only: 1 · 0.00 yuan" in html
    assert 'class="abuse flagged"' not in html


HOSTILE = "<b>&\"'😀</b>"


def generic_rows(table) -> str:
    """The rows as django-tables2's own per-cell dispatch renders them."""
    from django.template import Context, Template

    return Template(
        "{% for row in table.paginated_rows %}<tr {{ row.attrs.as_html }}>"
        "{% for column, cell in row.items %}<td {{ column.attrs.td.as_html }}>{{ cell }}</td>{% endfor %}"
        "</tr>{% endfor %}"
    ).render(Context({"table": table}))


def test_hostile_text_in_every_free_text_cell_is_escaped_as_django_tables2_escapes_it(merchant, shop, yto_outlet):
    from aftersales.tables import WorkbenchTable

    buyer = Buyer.objects.create(external_id="hostile", nickname=HOSTILE)
    make_after_sale_on_new_order(
        shop, no="AS-HOSTILE", order_no="O-<&\"'>", title=HOSTILE, remark=HOSTILE, buyer=buyer,
        parcel_status=Parcel.Status.IN_TRANSIT, outlet=yto_outlet, tracking_no="YT-HOSTILE",
    )  # fmt: skip
    table = WorkbenchTable(list(selectors.after_sales_for_shop(shop=shop)), shop=shop)
    html = table.body_html
    assert html == generic_rows(table)
    assert "<b>" not in html
    assert "O-&lt;&amp;&quot;&#x27;&gt;" in html
    assert "&lt;b&gt;&amp;&quot;&#x27;😀&lt;/b&gt;" in html


def test_the_rows_follow_the_tables_own_columns_when_they_change(merchant, shop, yto_outlet):
    """The fast rows are read off the column list: reordered or hidden columns are written as declared."""
    from aftersales.tables import WorkbenchTable

    class Reordered(WorkbenchTable):
        class Meta(WorkbenchTable.Meta):
            sequence = ("buyer", "amount", "select", "after_sale_no", "...")
            exclude = ("goods", "flag")

    make_after_sale_on_new_order(shop, no="AS-COLS", remark=HOSTILE, parcel_status=Parcel.Status.SIGNED)
    table = Reordered(list(selectors.after_sales_for_shop(shop=shop)), shop=shop)
    html = table.body_html
    assert html == generic_rows(table)
    assert html.count("<td") == len(WorkbenchTable.base_columns) - 2
    assert html.index('class="num"') < html.index('class="select"')


def test_the_rows_are_written_as_django_tables2_would_render_them(rf, merchant, rows):
    """body_html skips django-tables2's per-cell dispatch for speed; its markup must not drift from it."""
    from django.template import Context, Template

    from aftersales.tables import WorkbenchTable

    records = list(selectors.after_sales_for_shop(shop=merchant.shop).order_by("pk"))
    table = WorkbenchTable(records, shop=merchant.shop)
    generic = Template(
        "{% for row in table.paginated_rows %}<tr {{ row.attrs.as_html }}>"
        "{% for column, cell in row.items %}<td {{ column.attrs.td.as_html }}>{{ cell }}</td>{% endfor %}"
        "</tr>{% endfor %}"
    ).render(Context({"table": table}))
    assert len(records) > 5
    assert table.body_html == generic
