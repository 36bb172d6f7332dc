"""The inbound events API (platform-api.md) for the shop's own types: order.paid, parcel.shipped, parcel.status."""

import json
import time
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.conf import settings

from shop.errors import DomainError, NotFound
from shop.models import Buyer, Order, OrderLine, Parcel, PlatformEvent, TrackingEvent
from shop.platform_events import transport
from shop.platform_events.registry import get_type
from shop.signing import sign
from tests.shop.factories import at, make_courier, make_order, make_outlet, make_parcel

URL = "/api/platform/events"
OCCURRED_AT = "2026-11-22T10:15:00+08:00"


# --- helpers ----------------------------------------------------------------------------------------
def order_paid_data(**overrides) -> dict:
    data = {
        "shop": "demo-shop",
        "order_no": "O-1001",
        "paid_at": "2026-11-22T10:15:00+08:00",
        "buyer": {"id": "b-42", "nickname": "小王", "trusted": True},
        "lines": [
            {
                "line_no": "1",
                "sku": "SKU-1",
                "title": "保温杯",
                "category": "home",
                "quantity": 1,
                "paid_amount": "129.00",
                "domestic_physical": True,
            },
            {
                "line_no": "2",
                "sku": "SKU-2",
                "title": "杯套",
                "category": "home",
                "quantity": 2,
                "paid_amount": "20.50",
                "domestic_physical": False,
            },
        ],
    }
    data.update(overrides)
    return data


def parcel_shipped_data(**overrides) -> dict:
    data = {
        "order_no": "O-1001",
        "tracking_no": "YT1234567890",
        "courier": "YTO",
        "outlet": "YTO-SH-001",
        "line_nos": ["1"],
    }
    data.update(overrides)
    return data


def parcel_status_data(**overrides) -> dict:
    data = {
        "tracking_no": "YT1234567890",
        "courier": "YTO",
        "status": "in_transit",
        "at": "2026-11-21T08:00:00+08:00",
        "note": "上海转运中心",
    }
    data.update(overrides)
    return data


def envelope(event_type: str, data, *, event_id: str = "evt-1", occurred_at: str = OCCURRED_AT) -> dict:
    return {"id": event_id, "type": event_type, "occurred_at": occurred_at, "data": data}


def encode(body) -> bytes:
    return json.dumps(body, ensure_ascii=False).encode()


def post_signed(client, body: bytes, *, timestamp: str, secret: str | None = None):
    """Post with a correct signature over whatever timestamp string is given."""
    signature = sign(body, timestamp, secret or settings.PLATFORM_EVENTS_SECRET)
    return client.post(
        URL,
        data=body,
        content_type="application/json",
        headers={"X-Platform-Timestamp": timestamp, "X-Platform-Signature": signature},
    )


def counts() -> dict:
    return {
        "events": PlatformEvent.objects.count(),
        "orders": Order.objects.count(),
        "lines": OrderLine.objects.count(),
        "buyers": Buyer.objects.count(),
        "parcels": Parcel.objects.count(),
        "tracking": TrackingEvent.objects.count(),
    }


def buyer_state(external_id: str) -> tuple:
    return tuple(Buyer.objects.filter(external_id=external_id).values_list("nickname", "trusted"))


@pytest.fixture
def order(shop):
    """O-1001 of demo-shop, paid, with two lines."""
    return make_order(
        shop,
        order_no="O-1001",
        lines=[{"paid_amount": Decimal("129.00")}, {"paid_amount": Decimal("20.50"), "title": "杯套"}],
    )


@pytest.fixture
def parcel(order, yto_outlet):
    """YTO YT1234567890 carrying both lines of O-1001, in transit since 2026-11-20 18:00 (+08:00)."""
    return make_parcel(order, outlet=yto_outlet, tracking_no="YT1234567890", status=Parcel.Status.IN_TRANSIT)


# --- order.paid applied -------------------------------------------------------------------------------
def test_order_paid_creates_the_order_its_lines_and_the_buyer(events, shop):
    response = events.send("order.paid", order_paid_data(), event_id="evt-paid-1")

    assert response.status_code == 200
    assert response.json() == {"result": "applied", "order": {"order_no": "O-1001", "status": "preparing"}}
    order = Order.objects.get(order_no="O-1001")
    assert order.shop == shop
    assert order.status == Order.Status.PREPARING
    assert order.paid_amount == Decimal("149.50")
    assert order.paid_at == datetime(2026, 11, 22, 2, 15, tzinfo=UTC)
    assert (order.buyer.external_id, order.buyer.nickname, order.buyer.trusted) == ("b-42", "小王", True)
    assert list(
        order.lines.order_by("line_no").values_list(
            "line_no", "sku", "title", "category", "quantity", "paid_amount", "domestic_physical"
        )
    ) == [
        ("1", "SKU-1", "保温杯", "home", 1, Decimal("129.00"), True),
        ("2", "SKU-2", "杯套", "home", 2, Decimal("20.50"), False),
    ]


def test_applied_event_is_stored_with_its_payload_and_outcome(events, shop):
    data = order_paid_data()
    events.send("order.paid", data, event_id="evt-paid-1")

    record = PlatformEvent.objects.get()
    assert record.event_id == "evt-paid-1"
    assert record.type == "order.paid"
    assert record.occurred_at == at("2026-11-22 10:15")
    assert record.payload == data
    assert record.outcome == {"order": {"order_no": "O-1001", "status": "preparing"}}


def test_order_paid_updates_an_existing_buyer_instead_of_creating_one(events, shop):
    buyer = Buyer.objects.create(external_id="b-42", nickname="老王", trusted=False)

    response = events.send("order.paid", order_paid_data())

    assert response.status_code == 200
    assert Buyer.objects.count() == 1
    buyer.refresh_from_db()
    assert (buyer.nickname, buyer.trusted) == ("小王", True)
    assert Order.objects.get(order_no="O-1001").buyer == buyer


def test_order_paid_without_trusted_keeps_what_we_know_of_the_buyer(events, shop):
    Buyer.objects.create(external_id="b-42", nickname="老王", trusted=True)

    response = events.send("order.paid", order_paid_data(buyer={"id": "b-42", "nickname": "小王"}))

    assert response.status_code == 200
    assert buyer_state("b-42") == (("小王", True),)


def test_order_paid_for_a_new_buyer_without_trusted_makes_an_ordinary_buyer(events, shop):
    response = events.send("order.paid", order_paid_data(buyer={"id": "b-77", "nickname": "阿杰"}))

    assert response.status_code == 200
    assert buyer_state("b-77") == (("阿杰", False),)


def test_timestamp_with_underscores_is_refused(events, shop):
    body = json.dumps(envelope("order.paid", order_paid_data())).encode()
    ts = f"{int(time.time()):_}"
    response = events.post_raw(body, timestamp=ts, signature=sign(body, ts, settings.PLATFORM_EVENTS_SECRET))
    assert response.status_code == 401
    assert Order.objects.count() == 0


# --- 401 ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="no headers"),
        pytest.param({"X-Platform-Signature": "0" * 64}, id="no timestamp"),
        pytest.param({"X-Platform-Timestamp": "NOW"}, id="no signature"),
        pytest.param({"X-Platform-Timestamp": "", "X-Platform-Signature": ""}, id="empty headers"),
    ],
)
def test_request_with_missing_signature_headers_is_refused_and_stores_nothing(client, shop, headers):
    body = encode(envelope("order.paid", order_paid_data()))
    headers = {k: str(int(time.time())) if v == "NOW" else v for k, v in headers.items()}

    response = client.post(URL, data=body, content_type="application/json", headers=headers)

    assert response.status_code == 401
    assert list(response.json()) == ["error"]
    assert PlatformEvent.objects.count() == 0
    assert Order.objects.count() == 0


def test_request_with_a_bad_signature_is_refused_and_stores_nothing(events, shop):
    response = events.post_raw(encode(envelope("order.paid", order_paid_data())), signature="0" * 64)

    assert response.status_code == 401
    assert response.json() == {"error": "invalid signature"}
    assert PlatformEvent.objects.count() == 0
    assert Order.objects.count() == 0


def test_request_signed_with_another_secret_is_refused_and_stores_nothing(events, shop):
    response = events.post_raw(encode(envelope("order.paid", order_paid_data())), secret="not-the-platform-secret")

    assert response.status_code == 401
    assert response.json() == {"error": "invalid signature"}
    assert PlatformEvent.objects.count() == 0
    assert Order.objects.count() == 0


def test_request_whose_body_was_changed_after_signing_is_refused(client, shop):
    ts = str(int(time.time()))
    signed_body = encode(envelope("order.paid", order_paid_data()))
    sent_body = encode(envelope("order.paid", order_paid_data(order_no="O-6666")))

    response = client.post(
        URL,
        data=sent_body,
        content_type="application/json",
        headers={
            "X-Platform-Timestamp": ts,
            "X-Platform-Signature": sign(signed_body, ts, settings.PLATFORM_EVENTS_SECRET),
        },
    )

    assert response.status_code == 401
    assert PlatformEvent.objects.count() == 0
    assert Order.objects.count() == 0


def test_signature_with_non_ascii_characters_is_refused_not_a_server_error(events, shop):
    response = events.post_raw(encode(envelope("order.paid", order_paid_data())), signature="é" * 64)

    assert response.status_code == 401
    assert response.json() == {"error": "invalid signature"}
    assert PlatformEvent.objects.count() == 0
    assert Order.objects.count() == 0


@pytest.mark.parametrize("timestamp", ["abc", "1795000000.5", "2026-11-22T10:15:00+08:00"])
def test_request_with_a_non_integer_timestamp_is_refused_and_stores_nothing(client, shop, timestamp):
    # Correctly signed over the bad timestamp: the timestamp itself is what is refused.
    response = post_signed(client, encode(envelope("order.paid", order_paid_data())), timestamp=timestamp)

    assert response.status_code == 401
    assert response.json() == {"error": "X-Platform-Timestamp must be Unix time in seconds"}
    assert PlatformEvent.objects.count() == 0
    assert Order.objects.count() == 0


@pytest.mark.parametrize("skew", [-301, 301], ids=["301 s in the past", "301 s in the future"])
def test_request_signed_more_than_300_seconds_from_now_is_refused_and_stores_nothing(events, shop, skew):
    response = events.post_raw(encode(envelope("order.paid", order_paid_data())), timestamp=int(time.time()) + skew)

    assert response.status_code == 401
    assert response.json() == {"error": "timestamp is more than 300 s from now"}
    assert PlatformEvent.objects.count() == 0
    assert Order.objects.count() == 0


@pytest.mark.parametrize("skew", [-299, 299], ids=["299 s in the past", "299 s in the future"])
def test_request_signed_within_300_seconds_of_now_is_accepted(events, shop, skew):
    response = events.post_raw(encode(envelope("order.paid", order_paid_data())), timestamp=int(time.time()) + skew)

    assert response.status_code == 200
    assert response.json() == {"result": "applied", "order": {"order_no": "O-1001", "status": "preparing"}}
    assert Order.objects.count() == 1


@pytest.mark.parametrize("skew, status", [(300, 200), (-300, 200), (301, 401), (-301, 401)])
def test_timestamp_exactly_300_seconds_from_now_is_the_last_one_accepted(shop, skew, status):
    body = encode(envelope("order.paid", order_paid_data()))
    now = 1_795_000_000
    timestamp = str(now + skew)

    answer = transport.handle(body, timestamp, sign(body, timestamp, settings.PLATFORM_EVENTS_SECRET), now=now)

    assert answer.status == status
    assert Order.objects.count() == (1 if status == 200 else 0)


# --- 400 ----------------------------------------------------------------------------------------------
def _without(mapping: dict, key: str) -> dict:
    return {k: v for k, v in mapping.items() if k != key}


def _with_line(index: int, **changes) -> dict:
    data = order_paid_data()
    data["lines"][index].update(changes)
    return data


def _id_of(length: int) -> dict:
    return envelope("order.paid", order_paid_data(), event_id="e" * length)


BAD_BODIES = [
    pytest.param(b'{"id": "evt-1", "type": ', "", id="malformed JSON"),
    pytest.param(b"\xff\xfe\xfa", "", id="not UTF-8"),
    pytest.param(b'["evt-1", "order.paid"]', "", id="body is a list"),
    pytest.param(b'"evt-1"', "", id="body is a string"),
    pytest.param(_without(envelope("order.paid", order_paid_data()), "id"), "id", id="missing id"),
    pytest.param(envelope("order.paid", order_paid_data(), event_id=""), "id", id="empty id"),
    pytest.param(_id_of(101), "id", id="id of 101 characters"),
    pytest.param(envelope("order.refunded", order_paid_data()), "type", id="unknown type"),
    pytest.param(_without(envelope("order.paid", order_paid_data()), "type"), "type", id="missing type"),
    pytest.param(
        envelope("order.paid", order_paid_data(), occurred_at="2026-11-22T10:15:00"), "occurred_at", id="no offset"
    ),
    pytest.param(envelope("order.paid", order_paid_data(), occurred_at="yesterday"), "occurred_at", id="not a time"),
    pytest.param(envelope("order.paid", [order_paid_data()]), "data", id="data is a list"),
    pytest.param(_without(envelope("order.paid", {}), "data"), "data", id="missing data"),
    pytest.param(
        envelope("order.paid", _with_line(0, paid_amount=129.0)), "data.lines[0].paid_amount", id="amount float"
    ),
    pytest.param(
        envelope("order.paid", _with_line(0, paid_amount="-129.00")), "data.lines[0].paid_amount", id="amount negative"
    ),
    pytest.param(
        envelope("order.paid", _with_line(0, paid_amount="129.001")),
        "data.lines[0].paid_amount",
        id="amount three decimals",
    ),
    pytest.param(
        envelope("order.paid", _with_line(0, paid_amount="0.00")), "data.lines[0].paid_amount", id="amount zero"
    ),
    pytest.param(envelope("order.paid", _with_line(1, quantity=0)), "data.lines[1].quantity", id="quantity zero"),
    pytest.param(envelope("order.paid", order_paid_data(lines=[])), "data.lines", id="lines empty"),
    pytest.param(envelope("order.paid", _with_line(1, line_no="1")), "data.lines[1].line_no", id="line_no repeated"),
    pytest.param(
        envelope("order.paid", order_paid_data(buyer={"nickname": "小王", "trusted": True})),
        "data.buyer.id",
        id="buyer id missing",
    ),
    pytest.param(
        envelope("order.paid", order_paid_data(paid_at="2026-11-22 10:15")), "data.paid_at", id="paid_at no offset"
    ),
    pytest.param(
        envelope("parcel.status", parcel_status_data(status="delivered")), "data.status", id="unknown parcel status"
    ),
    pytest.param(
        envelope("parcel.status", parcel_status_data(at="2026-11-21T08:00:00")), "data.at", id="at without offset"
    ),
    pytest.param(envelope("parcel.shipped", parcel_shipped_data(line_nos=[])), "data.line_nos", id="line_nos empty"),
    pytest.param(
        envelope("parcel.shipped", parcel_shipped_data(line_nos=["1", ""])), "data.line_nos[1]", id="line_no blank"
    ),
    pytest.param(
        envelope("parcel.shipped", _without(parcel_shipped_data(), "tracking_no")),
        "data.tracking_no",
        id="tracking_no missing",
    ),
]


@pytest.mark.parametrize("body, field", BAD_BODIES)
def test_malformed_event_is_refused_with_the_path_of_the_bad_field_and_stores_nothing(events, order, body, field):
    before = counts()

    response = events.post_raw(body if isinstance(body, bytes) else encode(body))

    assert response.status_code == 400
    answer = response.json()
    assert sorted(answer) == ["error", "field"]
    assert answer["field"] == field
    assert answer["error"]
    assert counts() == before


def test_event_id_of_100_characters_is_accepted(events, shop):
    response = events.post_raw(encode(_id_of(100)))

    assert response.status_code == 200
    assert PlatformEvent.objects.get().event_id == "e" * 100


def test_order_paid_whose_second_line_is_invalid_creates_no_order_and_leaves_the_buyer_alone(events, shop):
    Buyer.objects.create(external_id="b-42", nickname="老王", trusted=False)
    before = counts()

    response = events.send("order.paid", _with_line(1, paid_amount=20.5))

    assert response.status_code == 400
    assert response.json()["field"] == "data.lines[1].paid_amount"
    assert counts() == before
    assert buyer_state("b-42") == (("老王", False),)


# --- which answer wins -----------------------------------------------------------------------------------
def test_bad_signature_wins_over_malformed_json(events, shop):
    response = events.post_raw(b'{"id": "evt-1", ', signature="0" * 64)

    assert response.status_code == 401
    assert response.json() == {"error": "invalid signature"}


def test_stale_timestamp_wins_over_an_unknown_type(events, shop):
    response = events.post_raw(encode(envelope("order.shipped", {})), timestamp=int(time.time()) - 3600)

    assert response.status_code == 401
    assert PlatformEvent.objects.count() == 0


def test_bad_field_wins_over_an_unknown_shop(events, db):
    response = events.send("order.paid", order_paid_data(shop="no-such-shop", lines=[]))

    assert response.status_code == 400
    assert response.json()["field"] == "data.lines"
    assert Order.objects.count() == 0


def test_bad_field_wins_over_an_unknown_parcel(events, db):
    response = events.send("parcel.status", parcel_status_data(tracking_no="YT0000000000", status="teleported"))

    assert response.status_code == 400
    assert response.json()["field"] == "data.status"


def test_unknown_shop_wins_over_an_existing_order_number(events, order):
    before = counts()

    response = events.send("order.paid", order_paid_data(shop="no-such-shop"))

    assert response.status_code == 404
    assert list(response.json()) == ["error"]
    assert counts() == before


def test_unknown_line_wins_over_an_existing_tracking_number(events, parcel):
    before = counts()

    response = events.send("parcel.shipped", parcel_shipped_data(line_nos=["1", "9"]))

    assert response.status_code == 404
    assert counts() == before


def test_unknown_outlet_wins_over_a_closed_order(events, shop, yto_outlet):
    make_order(shop, order_no="O-1001", status=Order.Status.CLOSED)
    before = counts()

    response = events.send("parcel.shipped", parcel_shipped_data(outlet="YTO-XX-999"))

    assert response.status_code == 404
    assert counts() == before


def test_existing_tracking_number_is_reported_before_the_order_status(events, shop, parcel):
    closed = make_order(shop, order_no="O-2002", status=Order.Status.CLOSED)
    before = counts()

    response = events.send("parcel.shipped", parcel_shipped_data(order_no=closed.order_no))

    assert response.status_code == 409
    assert response.json()["code"] == "already_exists"
    assert counts() == before


# --- 404 ----------------------------------------------------------------------------------------------
def test_order_paid_for_an_unknown_shop_is_not_found_and_stores_nothing(events, shop):
    response = events.send("order.paid", order_paid_data(shop="no-such-shop"))

    assert response.status_code == 404
    assert list(response.json()) == ["error"]
    assert counts() == {"events": 0, "orders": 0, "lines": 0, "buyers": 0, "parcels": 0, "tracking": 0}


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"order_no": "O-9999"}, id="unknown order"),
        pytest.param({"line_nos": ["1", "3"]}, id="unknown line"),
        pytest.param({"courier": "SF"}, id="unknown courier"),
        pytest.param({"outlet": "YTO-SH-999"}, id="unknown outlet"),
        pytest.param({"outlet": "ZTO-SH-001"}, id="outlet of another courier"),
    ],
)
def test_parcel_shipped_with_an_unknown_reference_is_not_found_and_changes_nothing(events, order, yto_outlet, changes):
    make_outlet(make_courier("ZTO"), code="ZTO-SH-001")
    before = counts()

    response = events.send("parcel.shipped", parcel_shipped_data(**changes))

    assert response.status_code == 404
    assert list(response.json()) == ["error"]
    assert counts() == before
    order.refresh_from_db()
    assert order.status == Order.Status.PREPARING


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"tracking_no": "YT0000000000"}, id="unknown tracking number"),
        pytest.param({"courier": "ZTO"}, id="tracking number of another courier"),
        pytest.param({"courier": "SF"}, id="unknown courier"),
    ],
)
def test_parcel_status_for_an_unknown_parcel_is_not_found_and_changes_nothing(events, parcel, changes):
    make_courier("ZTO")
    before = counts()

    response = events.send("parcel.status", parcel_status_data(**changes))

    assert response.status_code == 404
    assert list(response.json()) == ["error"]
    assert counts() == before
    parcel.refresh_from_db()
    assert (parcel.status, parcel.status_at) == (Parcel.Status.IN_TRANSIT, at("2026-11-20 18:00"))


# --- 409 ----------------------------------------------------------------------------------------------
def test_order_paid_with_an_existing_order_number_is_refused_and_changes_nothing(events, order):
    Buyer.objects.create(external_id="b-42", nickname="老王", trusted=False)
    before = counts()

    response = events.send("order.paid", order_paid_data())

    assert response.status_code == 409
    answer = response.json()
    assert sorted(answer) == ["code", "error"]
    assert answer["code"] == "already_exists"
    assert counts() == before
    assert buyer_state("b-42") == (("老王", False),)
    order.refresh_from_db()
    assert order.paid_amount == Decimal("149.50")


def test_parcel_shipped_with_a_tracking_number_the_courier_already_used_is_refused(events, parcel):
    before = counts()

    response = events.send("parcel.shipped", parcel_shipped_data(line_nos=["2"]))

    assert response.status_code == 409
    assert response.json()["code"] == "already_exists"
    assert counts() == before


def test_same_tracking_number_with_another_courier_is_allowed(events, parcel):
    zto = make_courier("ZTO")
    make_outlet(zto, code="ZTO-SH-001")

    response = events.send("parcel.shipped", parcel_shipped_data(courier="ZTO", outlet="ZTO-SH-001"))

    assert response.status_code == 200
    assert response.json() == {"result": "applied", "order": {"order_no": "O-1001", "status": "shipped"}}
    assert sorted(Parcel.objects.filter(tracking_no="YT1234567890").values_list("courier__code", flat=True)) == [
        "YTO",
        "ZTO",
    ]


@pytest.mark.parametrize("status", [Order.Status.CLOSED, Order.Status.PENDING_PAYMENT, Order.Status.COMPLETED])
def test_shipping_an_order_whose_status_does_not_allow_it_is_refused(events, shop, yto_outlet, status):
    make_order(shop, order_no="O-1001", status=status)
    before = counts()

    response = events.send("parcel.shipped", parcel_shipped_data())

    assert response.status_code == 409
    assert response.json()["code"] == "order_status"
    assert counts() == before
    assert Order.objects.get(order_no="O-1001").status == status


def test_in_transit_after_a_signed_parcel_is_an_invalid_transition(events, order, yto_outlet):
    parcel = make_parcel(order, outlet=yto_outlet, tracking_no="YT1234567890", status=Parcel.Status.SIGNED)
    before = counts()

    response = events.send("parcel.status", parcel_status_data(status="in_transit", at="2026-11-21T08:00:00+08:00"))

    assert response.status_code == 409
    answer = response.json()
    assert sorted(answer) == ["code", "error"]
    assert answer["code"] == "invalid_transition"
    assert counts() == before
    parcel.refresh_from_db()
    assert (parcel.status, parcel.status_at) == (Parcel.Status.SIGNED, at("2026-11-20 18:00"))


# --- idempotency ----------------------------------------------------------------------------------------
def test_duplicate_event_returns_first_outcome_and_changes_nothing(events, shop):
    events.send("order.paid", order_paid_data(), event_id="evt-paid-1")
    before = counts()

    response = events.send(
        "order.paid",
        order_paid_data(order_no="O-2002", buyer={"id": "b-43", "nickname": "小李"}),
        event_id="evt-paid-1",
    )

    assert response.status_code == 200
    assert response.json() == {"result": "duplicate", "order": {"order_no": "O-1001", "status": "preparing"}}
    assert counts() == before
    assert not Order.objects.filter(order_no="O-2002").exists()
    assert PlatformEvent.objects.get().payload == order_paid_data()


def test_duplicate_event_returns_first_outcome_whatever_type_the_new_body_has(events, shop):
    events.send("order.paid", order_paid_data(), event_id="evt-paid-1")
    before = counts()

    response = events.send("no.such.type", {"anything": 1}, event_id="evt-paid-1", occurred_at="not a time")

    assert response.status_code == 200
    assert response.json() == {"result": "duplicate", "order": {"order_no": "O-1001", "status": "preparing"}}
    assert counts() == before


def test_duplicate_parcel_status_returns_the_status_of_its_first_delivery(events, parcel):
    events.send("parcel.status", parcel_status_data(status="in_transit"), event_id="evt-status-1")
    events.send(
        "parcel.status",
        parcel_status_data(status="out_for_delivery", at="2026-11-22T08:00:00+08:00"),
        event_id="evt-status-2",
    )
    before = counts()

    response = events.send("parcel.status", parcel_status_data(status="in_transit"), event_id="evt-status-1")

    assert response.json() == {
        "result": "duplicate",
        "parcel": {"tracking_no": "YT1234567890", "status": "in_transit"},
        "after_sales": [],
    }
    assert counts() == before
    parcel.refresh_from_db()
    assert (parcel.status, parcel.status_at) == (Parcel.Status.OUT_FOR_DELIVERY, at("2026-11-22 08:00"))


def test_event_refused_as_malformed_can_be_resent_under_the_same_id_once_corrected(events, shop):
    refused = events.send("order.paid", _with_line(0, paid_amount=129.0), event_id="evt-paid-1")
    assert refused.status_code == 400

    response = events.send("order.paid", order_paid_data(), event_id="evt-paid-1")

    assert response.status_code == 200
    assert response.json() == {"result": "applied", "order": {"order_no": "O-1001", "status": "preparing"}}
    assert Order.objects.get().paid_amount == Decimal("149.50")
    assert PlatformEvent.objects.get().event_id == "evt-paid-1"


def test_event_refused_as_not_found_can_be_resent_under_the_same_id_once_corrected(events, shop):
    refused = events.send("order.paid", order_paid_data(shop="demo-shpo"), event_id="evt-paid-1")
    assert refused.status_code == 404

    response = events.send("order.paid", order_paid_data(), event_id="evt-paid-1")

    assert response.json() == {"result": "applied", "order": {"order_no": "O-1001", "status": "preparing"}}
    assert Order.objects.count() == 1


def test_event_refused_by_a_rule_can_be_resent_under_the_same_id_once_corrected(events, parcel):
    refused = events.send("parcel.shipped", parcel_shipped_data(), event_id="evt-ship-1")
    assert refused.json()["code"] == "already_exists"

    response = events.send("parcel.shipped", parcel_shipped_data(tracking_no="YT1234567891"), event_id="evt-ship-1")

    assert response.json() == {"result": "applied", "order": {"order_no": "O-1001", "status": "shipped"}}
    assert Parcel.objects.filter(tracking_no="YT1234567891").count() == 1


# --- all or nothing ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "error, status",
    [(DomainError("refused by a later applier", code="order_status"), 409), (NotFound("no such thing"), 404)],
    ids=["409", "404"],
)
def test_event_whose_later_applier_fails_is_rolled_back_whole(events, shop, monkeypatch, error, status):
    # A higher layer's applier refusing after the shop's applier has written: the writes must go too.
    def refuse(ctx):
        raise error

    event_type = get_type("order.paid")
    monkeypatch.setattr(event_type, "appliers", [*event_type.appliers, (99, refuse)])
    Buyer.objects.create(external_id="b-42", nickname="老王", trusted=False)
    before = counts()

    response = events.send("order.paid", order_paid_data(), event_id="evt-paid-1")

    assert response.status_code == status
    assert counts() == before
    assert buyer_state("b-42") == (("老王", False),)
    assert not PlatformEvent.objects.filter(event_id="evt-paid-1").exists()


# --- parcel.shipped -----------------------------------------------------------------------------------------
def test_shipping_some_lines_makes_the_order_partially_shipped(events, order, yto_outlet):
    response = events.send("parcel.shipped", parcel_shipped_data(line_nos=["1"]))

    assert response.status_code == 200
    assert response.json() == {"result": "applied", "order": {"order_no": "O-1001", "status": "partially_shipped"}}
    order.refresh_from_db()
    assert order.status == Order.Status.PARTIALLY_SHIPPED
    parcel = Parcel.objects.get()
    assert (parcel.order, parcel.courier.code, parcel.outlet, parcel.tracking_no) == (
        order,
        "YTO",
        yto_outlet,
        "YT1234567890",
    )
    assert parcel.status == Parcel.Status.COLLECTED
    assert parcel.status_at == parcel.shipped_at == at("2026-11-22 10:15")
    assert list(parcel.lines.values_list("line_no", flat=True)) == ["1"]


def test_shipping_the_remaining_lines_makes_the_order_shipped(events, order, yto_outlet):
    events.send("parcel.shipped", parcel_shipped_data(line_nos=["1"]))

    response = events.send("parcel.shipped", parcel_shipped_data(tracking_no="YT1234567891", line_nos=["2"]))

    assert response.json() == {"result": "applied", "order": {"order_no": "O-1001", "status": "shipped"}}
    order.refresh_from_db()
    assert order.status == Order.Status.SHIPPED
    assert Parcel.objects.count() == 2


def test_shipping_every_line_at_once_makes_the_order_shipped(events, order, yto_outlet):
    response = events.send("parcel.shipped", parcel_shipped_data(line_nos=["1", "2"]))

    assert response.json() == {"result": "applied", "order": {"order_no": "O-1001", "status": "shipped"}}
    order.refresh_from_db()
    assert order.status == Order.Status.SHIPPED
    assert sorted(Parcel.objects.get().lines.values_list("line_no", flat=True)) == ["1", "2"]


def test_shipping_a_line_again_in_another_parcel_keeps_the_order_partially_shipped(events, order, yto_outlet):
    events.send("parcel.shipped", parcel_shipped_data(line_nos=["1"]))

    response = events.send("parcel.shipped", parcel_shipped_data(tracking_no="YT1234567891", line_nos=["1"]))

    assert response.json() == {"result": "applied", "order": {"order_no": "O-1001", "status": "partially_shipped"}}


def test_shipped_parcel_starts_its_timeline_with_a_collected_event(events, order, yto_outlet):
    events.send("parcel.shipped", parcel_shipped_data(), occurred_at="2026-11-22T02:15:00Z")

    parcel = Parcel.objects.get()
    assert list(parcel.tracking_events.values_list("status", "at", "applied")) == [
        ("collected", at("2026-11-22 10:15"), True)
    ]


# --- parcel.status ------------------------------------------------------------------------------------------
def test_newer_parcel_status_moves_the_parcel_and_records_it(events, parcel):
    response = events.send("parcel.status", parcel_status_data(status="out_for_delivery"))

    assert response.status_code == 200
    assert response.json() == {
        "result": "applied",
        "parcel": {"tracking_no": "YT1234567890", "status": "out_for_delivery"},
        "after_sales": [],
    }
    parcel.refresh_from_db()
    assert (parcel.status, parcel.status_at) == (Parcel.Status.OUT_FOR_DELIVERY, at("2026-11-21 08:00"))
    latest = parcel.tracking_events.order_by("-id").first()
    assert (latest.status, latest.at, latest.note, latest.applied) == (
        "out_for_delivery",
        at("2026-11-21 08:00"),
        "上海转运中心",
        True,
    )


def test_older_parcel_status_is_applied_recorded_and_leaves_the_status_as_it_was(events, parcel):
    response = events.send("parcel.status", parcel_status_data(status="collected", at="2026-11-20T17:00:00+08:00"))

    assert response.status_code == 200
    assert response.json() == {
        "result": "applied",
        "parcel": {"tracking_no": "YT1234567890", "status": "in_transit"},
        "after_sales": [],
    }
    parcel.refresh_from_db()
    assert (parcel.status, parcel.status_at) == (Parcel.Status.IN_TRANSIT, at("2026-11-20 18:00"))
    late = parcel.tracking_events.order_by("-id").first()
    assert (late.status, late.at, late.applied) == ("collected", at("2026-11-20 17:00"), False)
    assert PlatformEvent.objects.count() == 1


def test_older_status_that_could_not_follow_the_current_one_is_still_recorded(events, order, yto_outlet):
    parcel = make_parcel(order, outlet=yto_outlet, tracking_no="YT1234567890", status=Parcel.Status.SIGNED)

    response = events.send("parcel.status", parcel_status_data(status="in_transit", at="2026-11-20T12:00:00+08:00"))

    assert response.json() == {
        "result": "applied",
        "parcel": {"tracking_no": "YT1234567890", "status": "signed"},
        "after_sales": [],
    }
    parcel.refresh_from_db()
    assert parcel.status == Parcel.Status.SIGNED
    assert list(parcel.tracking_events.order_by("at").values_list("status", "applied")) == [
        ("in_transit", False),
        ("signed", True),
    ]


def test_parcel_status_times_are_compared_across_offsets(events, parcel):
    # 09:59 UTC is 17:59 in Shanghai: one minute before the parcel's latest status.
    response = events.send("parcel.status", parcel_status_data(status="out_for_delivery", at="2026-11-20T09:59:00Z"))

    assert response.json()["parcel"] == {"tracking_no": "YT1234567890", "status": "in_transit"}
    assert parcel.tracking_events.order_by("-id").first().applied is False


def test_parcel_status_at_the_same_time_as_the_latest_is_applied(events, parcel):
    response = events.send(
        "parcel.status", parcel_status_data(status="out_for_delivery", at="2026-11-20T18:00:00+08:00")
    )

    assert response.json()["parcel"] == {"tracking_no": "YT1234567890", "status": "out_for_delivery"}
    parcel.refresh_from_db()
    assert (parcel.status, parcel.status_at) == (Parcel.Status.OUT_FOR_DELIVERY, at("2026-11-20 18:00"))
    assert parcel.tracking_events.order_by("-id").first().applied is True


def test_parcel_status_moves_only_the_parcel_of_the_named_courier(events, parcel, order):
    zto_parcel = make_parcel(order, outlet=make_outlet(make_courier("ZTO")), tracking_no="YT1234567890")

    response = events.send("parcel.status", parcel_status_data(courier="ZTO", status="signed"))

    assert response.json()["parcel"] == {"tracking_no": "YT1234567890", "status": "signed"}
    zto_parcel.refresh_from_db()
    parcel.refresh_from_db()
    assert (zto_parcel.status, parcel.status) == (Parcel.Status.SIGNED, Parcel.Status.IN_TRANSIT)


def test_parcel_status_outcome_always_lists_after_sales(events, parcel):
    response = events.send("parcel.status", parcel_status_data())

    assert "after_sales" in response.json()
    assert isinstance(response.json()["after_sales"], list)
    assert PlatformEvent.objects.get().outcome["after_sales"] == []


def test_a_lone_surrogate_in_the_body_is_a_400_not_a_server_error(events, shop):
    body = (
        b'{"id": "evt-s", "type": "order.paid", "occurred_at": "2026-11-22T10:15:00+08:00",'
        b' "data": {"shop": "\\udc80"}}'
    )
    response = events.post_raw(body)
    assert response.status_code == 400
    assert PlatformEvent.objects.count() == 0
