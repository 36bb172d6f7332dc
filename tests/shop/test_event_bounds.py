"""Hostile but signed events: nesting, integers, times and characters the database cannot hold are 400s.

Each refusal answers the contract's `{"error", "field"}` and leaves every table as it was; the
same bounds hold for the carrier callback (tests/interception/test_callbacks.py).
"""

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from aftersales.models import AfterSale, RefundEntry
from shop.models import Buyer, Order, OrderLine, Parcel, PlatformEvent, TrackingEvent
from shop.platform_events.payload import MAX_DEPTH, MAX_INTEGER
from tests.shop.factories import at, make_order, make_parcel

OCCURRED_AT = "2026-11-22T10:15:00+08:00"


def order_paid_data(**line) -> dict:
    return {
        "shop": "demo-shop",
        "order_no": "O-2001",
        "paid_at": "2026-11-22T10:15:00+08:00",
        "buyer": {"id": "b-42", "nickname": "小王", "trusted": True},
        "lines": [
            {
                "line_no": "1",
                "title": "保温杯",
                "category": "home",
                "quantity": 1,
                "paid_amount": "129.00",
                **line,
            }
        ],
    }


def parcel_status_data(**overrides) -> dict:
    return {"tracking_no": "YT1234567890", "courier": "YTO", "status": "out_for_delivery", **overrides}


def body_of(event_type: str, data, *, event_id: str = "evt-1", occurred_at: str = OCCURRED_AT) -> bytes:
    envelope = {"id": event_id, "type": event_type, "occurred_at": occurred_at, "data": data}
    return json.dumps(envelope, ensure_ascii=False).encode()


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def tables() -> dict:
    """Everything an event could write, to assert that a refused one wrote nothing."""
    return {
        "events": list(PlatformEvent.objects.values_list("event_id", flat=True)),
        "orders": list(Order.objects.values_list("order_no", "status", "refunded_amount")),
        "lines": OrderLine.objects.count(),
        "buyers": list(Buyer.objects.values_list("external_id", "nickname", "trusted")),
        "parcels": list(Parcel.objects.values_list("tracking_no", "status", "status_at")),
        "tracking": TrackingEvent.objects.count(),
        "after_sales": list(AfterSale.objects.values_list("after_sale_no", "status", "deadline")),
        "refunds": RefundEntry.objects.count(),
    }


@pytest.fixture
def parcel(shop, yto_outlet):
    """YTO YT1234567890 of a shipped O-1001 (one 129.00 line), in transit since 2026-11-20 18:00 (+08:00)."""
    order = make_order(shop, order_no="O-1001", status=Order.Status.SHIPPED, lines=[{"paid_amount": "129.00"}])
    return make_parcel(order, outlet=yto_outlet, tracking_no="YT1234567890", status=Parcel.Status.IN_TRANSIT)


def assert_refused(events, body: bytes, *, field: str, error: str):
    before = tables()

    response = events.post_raw(body)

    assert (response.status_code, response.json()) == (400, {"error": error, "field": field})
    assert tables() == before


# --- depth ---------------------------------------------------------------------------------------------
def test_json_nested_a_hundred_thousand_deep_is_a_400_not_a_server_error(events, shop):
    body = body_of("order.paid", order_paid_data()).replace(
        b'"quantity": 1', b'"quantity": ' + nested(100_000).encode()
    )

    assert_refused(events, body, field="", error=f"JSON nested more than {MAX_DEPTH} levels deep")


def test_json_one_level_deeper_than_the_limit_is_refused_naming_where_it_went_too_deep(events, shop):
    # The envelope is level 1 and data level 2: a list in data.extra starts at level 3.
    extra = json.loads(nested(MAX_DEPTH - 1))
    data = {**order_paid_data(), "extra": extra}

    assert_refused(
        events,
        body_of("order.paid", data),
        field="data.extra" + "[0]" * (MAX_DEPTH - 2),
        error=f"JSON nested more than {MAX_DEPTH} levels deep",
    )


def test_json_exactly_at_the_depth_limit_is_accepted(events, shop):
    data = {**order_paid_data(), "extra": json.loads(nested(MAX_DEPTH - 2))}

    response = events.post_raw(body_of("order.paid", data))

    assert (response.status_code, response.json()["order"]) == (200, {"order_no": "O-2001", "status": "preparing"})


# --- integers ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "quantity",
    [10**20, 2**40, 2**31, MAX_INTEGER + 1],
    ids=["10^20 (beyond SQLite)", "2^40 (beyond PostgreSQL)", "2^31", "one above the limit"],
)
def test_quantity_out_of_range_is_a_400_and_creates_nothing(events, shop, quantity):
    assert_refused(
        events,
        body_of("order.paid", order_paid_data(quantity=quantity)),
        field="data.lines[0].quantity",
        error=f"quantity must be a whole number from 1 to {MAX_INTEGER}",
    )


def test_quantity_at_the_limit_is_accepted(events, shop):
    response = events.post_raw(body_of("order.paid", order_paid_data(quantity=MAX_INTEGER)))

    assert response.status_code == 200
    assert OrderLine.objects.get().quantity == MAX_INTEGER


def test_lines_adding_up_beyond_what_an_amount_can_hold_are_a_400(events, shop):
    data = order_paid_data(paid_amount="9999999999.00")
    data["lines"].append({**data["lines"][0], "line_no": "2"})

    assert_refused(
        events,
        body_of("order.paid", data),
        field="data.lines",
        error="the paid amounts of the lines must add up to at most 9999999999.99",
    )


@pytest.mark.parametrize("constant", [b"NaN", b"Infinity", b"-Infinity", b"1e400"])
def test_numbers_json_cannot_carry_are_a_400(events, shop, constant):
    body = body_of("order.paid", {**order_paid_data(), "extra": 0}).replace(b'"extra": 0', b'"extra": ' + constant)
    field, error = ("data.extra", "numbers must be finite") if constant == b"1e400" else ("", "malformed JSON")

    assert_refused(events, body, field=field, error=error)


# --- times ---------------------------------------------------------------------------------------------
WINDOW = "must be from 2000-01-01 to 2100-01-01 (UTC)"


@pytest.mark.parametrize(
    "when",
    ["0001-01-01T00:00+14:00", "9999-12-31T23:59:59-14:00", "1999-12-31T23:59:59+00:00", "2100-01-01T08:00:00+08:00"],
)
def test_occurred_at_outside_the_window_is_a_400(events, shop, when):
    assert_refused(
        events,
        body_of("order.paid", order_paid_data(), occurred_at=when),
        field="occurred_at",
        error=f"occurred_at {WINDOW}",
    )


@pytest.mark.parametrize("when", ["0001-01-01T00:00+14:00", "9999-12-31T23:59:59-14:00"])
def test_paid_at_outside_the_window_is_a_400(events, shop, when):
    data = {**order_paid_data(), "paid_at": when}

    assert_refused(events, body_of("order.paid", data), field="data.paid_at", error=f"paid_at {WINDOW}")


def test_the_window_starts_at_2000_and_ends_just_before_2100_in_utc(events, shop):
    first = events.post_raw(body_of("order.paid", order_paid_data(), occurred_at="2000-01-01T08:00:00+08:00"))
    data = {**order_paid_data(), "order_no": "O-2002", "paid_at": "2099-12-31T23:59:59+00:00"}
    last = events.post_raw(body_of("order.paid", data, event_id="evt-2"))

    assert (first.status_code, last.status_code) == (200, 200)
    assert Order.objects.get(order_no="O-2002").paid_at == datetime(2099, 12, 31, 23, 59, 59, tzinfo=UTC)


def test_an_after_sale_applied_in_the_year_9999_is_a_400_and_changes_nothing(events, parcel):
    data = {
        "after_sale_no": "AS-5001",
        "order_no": "O-1001",
        "line_no": "1",
        "type": "refund_only",
        "reason": "not_received",
        "amount": "129.00",
    }

    assert_refused(
        events,
        body_of("aftersale.applied", data, occurred_at="9999-12-31T23:59:59+08:00"),
        field="occurred_at",
        error=f"occurred_at {WINDOW}",
    )


@pytest.mark.parametrize("when", ["0001-01-01T00:00+14:00", "9999-12-31T23:59:59-14:00"])
def test_a_tracking_time_outside_the_window_is_a_400(events, parcel, when):
    assert_refused(events, body_of("parcel.status", parcel_status_data(at=when)), field="data.at", error=f"at {WINDOW}")


# --- tracking times from the future (issue 11, item 5) ----------------------------------------------------
FUTURE = "at is more than 1 day ahead of the server's clock"


def in_the_future(**delta) -> str:
    return (datetime.now(UTC) + timedelta(**delta)).isoformat()


@pytest.mark.parametrize("when", ["2999-01-01T00:00:00+08:00", "2099-12-31T00:00:00+08:00"])
def test_a_tracking_event_from_a_far_future_is_refused(events, parcel, when):
    error = f"at {WINDOW}" if when.startswith("2999") else FUTURE

    assert_refused(events, body_of("parcel.status", parcel_status_data(at=when)), field="data.at", error=error)


def test_a_tracking_event_more_than_a_day_ahead_of_the_clock_is_refused(events, parcel):
    body = body_of("parcel.status", parcel_status_data(at=in_the_future(days=1, minutes=5)))

    assert_refused(events, body, field="data.at", error=FUTURE)


def test_after_a_refused_future_tracking_event_a_real_one_still_moves_the_parcel(events, parcel):
    refused = events.post_raw(body_of("parcel.status", parcel_status_data(at="2999-01-01T00:00:00+08:00")))

    response = events.post_raw(
        body_of("parcel.status", parcel_status_data(at="2026-11-21T08:00:00+08:00"), event_id="evt-2")
    )

    assert refused.status_code == 400
    assert response.json() == {
        "result": "applied",
        "parcel": {"tracking_no": "YT1234567890", "status": "out_for_delivery"},
        "after_sales": [],
    }
    parcel.refresh_from_db()
    assert (parcel.status, parcel.status_at) == ("out_for_delivery", at("2026-11-21 08:00"))


def test_a_tracking_event_a_few_hours_ahead_of_the_clock_is_within_the_allowance(events, parcel):
    response = events.post_raw(body_of("parcel.status", parcel_status_data(at=in_the_future(hours=20))))

    assert response.json()["parcel"] == {"tracking_no": "YT1234567890", "status": "out_for_delivery"}


# --- characters ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "path, change",
    [
        ("data.buyer.nickname", lambda data: data["buyer"].update(nickname="小\u0000王")),
        ("data.lines[0].title", lambda data: data["lines"][0].update(title="\u0000")),
        ("data.extra", lambda data: data.update(extra="not read by any parser\u0000")),
        ("data.extra[1]", lambda data: data.update(extra=["a", "b\u0000"])),
        ("data", lambda data: data.update({"ext\u0000ra": 1})),
    ],
    ids=["nickname", "title", "an unknown field", "in a list", "in a key"],
)
def test_a_nul_character_anywhere_is_a_400_and_creates_nothing(events, shop, path, change):
    data = order_paid_data()
    change(data)

    assert_refused(events, body_of("order.paid", data), field=path, error="text must not contain NUL characters")


def test_a_nul_character_in_the_event_id_is_a_400(events, shop):
    assert_refused(
        events,
        body_of("order.paid", order_paid_data(), event_id="evt-\u0000"),
        field="id",
        error="text must not contain NUL characters",
    )


def test_a_nul_character_in_a_tracking_note_is_a_400_and_the_parcel_stays(events, parcel):
    body = body_of("parcel.status", parcel_status_data(at="2026-11-21T08:00:00+08:00", note="上海\u0000"))

    assert_refused(events, body, field="data.note", error="text must not contain NUL characters")
    assert Parcel.objects.get().status == "in_transit"


def test_an_event_inside_every_bound_is_applied(events, shop):
    response = events.post_raw(body_of("order.paid", order_paid_data(quantity=3)))

    assert response.status_code == 200
    line = OrderLine.objects.get()
    assert (line.quantity, line.paid_amount) == (3, Decimal("129.00"))
