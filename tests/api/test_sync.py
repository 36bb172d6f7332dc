"""Incremental sync (/after-sales, /service-orders) over the change feed: order, cursors, filters, cost."""

import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from shop import changes
from tests.aftersales.factories import make_after_sale
from tests.shop.factories import make_order

pytestmark = pytest.mark.django_db


def settle(timeout: float = 20.0) -> None:
    """Wait until every change is below the commit horizon (PostgreSQL: another session writing to the
    test database may hold it back a moment; the test's own transaction does not; SQLite: at once)."""
    from shop.models import Change

    deadline = time.monotonic() + timeout
    while (horizon := changes.horizon_value()) is not None and Change.objects.filter(txid__gte=horizon).exists():
        assert time.monotonic() < deadline, "a transaction of the test database has been running for 20 s"
        time.sleep(0.05)


def _changed(after_sale, event=changes.AFTER_SALE_UPDATED):
    changes.record_change(shop_id=after_sale.shop_id, event=event, object_id=after_sale.pk)
    settle()


@pytest.fixture
def three(shop):
    made = []
    for i in range(3):
        order = make_order(shop, order_no=f"O-S{i}")
        made.append(make_after_sale(order, after_sale_no=f"AS-S{i}", status="pending_merchant"))
    return made


def _nos(body):
    return [item["after_sale_no"] for item in body["data"]]


def test_changes_come_oldest_first_and_the_cursor_continues_after_the_page(api, three):
    for after_sale in three:
        _changed(after_sale, changes.AFTER_SALE_CREATED)
    first = api.get("/after-sales", {"limit": 2}).json()
    assert (_nos(first), first["has_more"]) == (["AS-S0", "AS-S1"], True)
    second = api.get("/after-sales", {"limit": 2, "cursor": first["next_cursor"]}).json()
    assert (_nos(second), second["has_more"]) == (["AS-S2"], False)


def test_when_nothing_changed_the_page_is_empty_and_the_cursor_is_the_one_passed(api, three):
    for after_sale in three:
        _changed(after_sale)
    cursor = api.get("/after-sales").json()["next_cursor"]
    again = api.get("/after-sales", {"cursor": cursor}).json()
    assert again == {"data": [], "next_cursor": cursor, "has_more": False}


def test_an_object_changed_again_appears_once_in_its_latest_state_at_its_latest_change(api, three):
    a, b, c = three
    _changed(a)
    _changed(b)
    cursor = api.get("/after-sales").json()["next_cursor"]
    _changed(a)
    _changed(c)
    a.remark = "改过两次"
    a.save()
    _changed(a)
    body = api.get("/after-sales", {"cursor": cursor}).json()
    assert _nos(body) == ["AS-S2", "AS-S0"]
    assert body["data"][1]["remark"] == "改过两次"


def test_next_cursor_is_always_a_string_even_with_no_changes_at_all(api):
    body = api.get("/after-sales").json()
    assert body["data"] == [] and isinstance(body["next_cursor"], str) and body["has_more"] is False
    assert api.get("/after-sales", {"cursor": body["next_cursor"]}).json()["next_cursor"] == body["next_cursor"]


def test_updated_since_starts_from_that_time(api, three):
    from datetime import timedelta

    from django.utils import timezone

    from shop.models import Change

    _changed(three[0])
    Change.objects.update(created_at=timezone.now() - timedelta(days=2))
    settle()
    _changed(three[1])
    since = (timezone.localtime() - timedelta(days=1)).isoformat()
    assert _nos(api.get("/after-sales", {"updated_since": since}).json()) == ["AS-S1"]
    future = (timezone.localtime() + timedelta(days=1)).isoformat()
    body = api.get("/after-sales", {"updated_since": future}).json()
    assert body["data"] == []
    _changed(three[2])
    assert _nos(api.get("/after-sales", {"cursor": body["next_cursor"]}).json()) == ["AS-S2"]


def test_filters_apply_to_the_current_state(api, shop, three):
    three[1].status = "refunded"
    three[1].deadline = None
    three[1].save()
    three[2].multi_refund = True
    three[2].save()
    for after_sale in three:
        _changed(after_sale)
    assert _nos(api.get("/after-sales", {"status": "refunded,rejected"}).json()) == ["AS-S1"]
    assert _nos(api.get("/after-sales", {"multi_refund": "true"}).json()) == ["AS-S2"]
    assert _nos(api.get("/after-sales", {"type": "refund_only"}).json()) == ["AS-S0", "AS-S1", "AS-S2"]
    response = api.get("/after-sales", {"status": "refunded,bogus"})
    assert (response.status_code, response.json()["error"]["field"]) == (422, "status")


def test_a_malformed_cursor_or_limit_is_422(api):
    for params, field in (({"cursor": "zzz"}, "cursor"), ({"limit": 0}, "limit"), ({"limit": 101}, "limit")):
        response = api.get("/after-sales", params)
        assert (response.status_code, response.json()["error"]["field"]) == (422, field), params
    assert api.get("/after-sales", {"updated_since": "yesterday"}).json()["error"]["field"] == "updated_since"


def test_another_shops_changes_are_not_synced(other_api, three):
    for after_sale in three:
        _changed(after_sale)
    assert other_api.get("/after-sales").json()["data"] == []
    assert other_api.get("/service-orders").json()["data"] == []


def test_a_page_costs_the_same_queries_at_any_depth(api, shop):
    made = [make_after_sale(make_order(shop, order_no=f"O-D{i}"), after_sale_no=f"AS-D{i}") for i in range(30)]
    for after_sale in made:
        _changed(after_sale)
    api.get("/statements")  # the token's first request writes its last use and its rate-limit bucket
    counts, cursor = [], None
    for _ in range(3):
        with CaptureQueriesContext(connection) as queries:
            body = api.get("/after-sales", {"limit": 10, **({"cursor": cursor} if cursor else {})}).json()
        counts.append(len(queries))
        cursor = body["next_cursor"]
        assert len(body["data"]) == 10
    assert counts[0] == counts[1] == counts[2] <= 6


def test_service_orders_sync_with_filters(api, after_sale):
    from interception.models import ServiceOrder

    parcel = after_sale.parcel
    service_order = ServiceOrder.objects.create(
        shop=after_sale.shop, after_sale=after_sale, parcel=parcel, courier=parcel.courier, outlet=parcel.outlet,
        mode="online", fee="3.00", via="detail", status="processing",
    )  # fmt: skip
    changes.record_change(shop_id=after_sale.shop_id, event=changes.SERVICE_ORDER_UPDATED, object_id=service_order.pk)
    settle()
    body = api.get("/service-orders").json()
    assert [(so["service_order_no"], so["status"]) for so in body["data"]] == [(service_order.number, "processing")]
    assert api.get("/service-orders", {"status": "succeeded"}).json()["data"] == []
    assert len(api.get("/service-orders", {"courier": "YTO", "mode": "online"}).json()["data"]) == 1
    assert api.get("/service-orders", {"outlet": "NOPE"}).json()["data"] == []
    assert api.get("/service-orders", {"mode": "bogus"}).status_code == 422


def test_the_services_write_the_feed_a_decision_appears_in_the_sync(api, after_sale):
    start = api.get("/after-sales").json()["next_cursor"]
    api.post("/after-sales/AS-5001/actions", {"action": "agree_refund", "version": 1})
    settle()
    body = api.get("/after-sales", {"cursor": start}).json()
    assert [(a["after_sale_no"], a["status"]) for a in body["data"]] == [("AS-5001", "refunded")]
    from shop.models import Change

    assert set(Change.objects.values_list("event", flat=True)) == {"after_sale.updated", "refund.created"}


def test_an_application_through_the_platform_events_is_synced_as_created(api, events, shop):
    from shop.models import Change

    make_order(shop, order_no="O-EV", status="shipped")
    response = events.send(
        "aftersale.applied",
        {"after_sale_no": "AS-EV", "order_no": "O-EV", "line_no": "1", "type": "refund_only",
         "reason": "quality", "amount": "10.00", "note": ""},
    )  # fmt: skip
    assert response.status_code == 200
    assert Change.objects.filter(event="after_sale.created").count() == 1
    settle()
    assert _nos(api.get("/after-sales").json()) == ["AS-EV"]


def test_an_interception_is_synced_with_its_result(api, after_sale):
    from interception import services as interception_services
    from interception.models import ServiceOrder

    api.post("/interceptions", {"after_sale_nos": ["AS-5001"]})
    settle()
    body = api.get("/service-orders").json()
    assert [so["status"] for so in body["data"]] == ["submitted"]
    interception_services.apply_result(
        service_order_id=ServiceOrder.objects.get().pk, status="succeeded", occurred_at=timezone.now()
    )
    settle()
    later = api.get("/service-orders", {"cursor": body["next_cursor"]}).json()
    assert [so["status"] for so in later["data"]] == ["succeeded"]
    # the interception's success refunded the buyer: the after-sale changed too
    assert [a["status"] for a in api.get("/after-sales").json()["data"]] == ["refunded"]


def test_the_timeout_sweep_writes_the_feed(api, after_sale):
    from datetime import timedelta

    from django.utils import timezone

    from aftersales import services
    from aftersales.models import AfterSale

    AfterSale.objects.filter(pk=after_sale.pk).update(deadline=timezone.now() - timedelta(minutes=1))
    services.time_out_after_sales(after_sale_ids=[after_sale.pk])
    settle()
    assert [(a["after_sale_no"], a["status"]) for a in api.get("/after-sales").json()["data"]] == [
        ("AS-5001", "refunded")
    ]


def test_a_backfill_gives_rows_written_without_the_feed_their_place(api, after_sale):
    from api.backfill import backfill_change_feed

    assert api.get("/after-sales").json()["data"] == []
    assert backfill_change_feed() == 1
    assert backfill_change_feed() == 0
    assert _nos(api.get("/after-sales").json()) == ["AS-5001"]


@pytest.mark.parametrize("path", ["/after-sales", "/service-orders"])
@pytest.mark.parametrize(
    "since",
    [
        "7913-09-14T15:07:01+19:08",
        "1999-12-31T23:59:59+08:00",
        "2100-01-01T08:00:00+08:00",
        "9999-12-31T23:59:59-14:00",
    ],
)
def test_an_updated_since_outside_2000_to_2100_or_with_an_odd_offset_is_422_not_a_500(api, path, since):
    """Found by schemathesis on PostgreSQL: "+19:08" is a valid ISO offset that the database refuses."""
    response = api.get(path, {"updated_since": since})

    assert (response.status_code, response.json()["error"]["field"]) == (422, "updated_since")
