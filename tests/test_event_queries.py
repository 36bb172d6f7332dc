"""The guard on the cost of one platform event: a fixed number of queries per event type.

An event should cost a signature check, one idempotency row and the rows it changes (issue: events
ingestion). Each number below is the statements of one event as the test database sees them. Under
pytest every transaction.atomic() is a savepoint inside the test's transaction: the event's own
transaction counts 2 (SAVEPOINT, RELEASE; in production BEGIN is sent with the first statement and
COMMIT is one round trip), and a service's own atomic block counts 2 more. Counted the same on SQLite
and PostgreSQL (`SELECT … FOR UPDATE` is one statement on both). A change that adds a query to an
event type fails here: either it is needed (raise the number and say why in its comment) or it is not.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from shop.models import Buyer, PlatformEvent

pytestmark = pytest.mark.django_db

PAID_AT = "2026-11-22T10:15:00+08:00"
SHIPPED = {"order_no": "O-1", "tracking_no": "YT1", "courier": "YTO", "outlet": "YTO-SH-001", "line_nos": ["1", "2"]}


def order_paid(order_no="O-1", buyer="b-42", trusted=False):
    line = {"sku": "S", "title": "保温杯", "category": "home", "quantity": 1, "domestic_physical": True}
    return {
        "shop": "demo-shop",
        "order_no": order_no,
        "paid_at": PAID_AT,
        "buyer": {"id": buyer, "nickname": "小王", "trusted": trusted},
        "lines": [line | {"line_no": "1", "paid_amount": "129.00"}, line | {"line_no": "2", "paid_amount": "29.00"}],
    }


def status(name, at, tracking_no="YT1"):
    return {"tracking_no": tracking_no, "courier": "YTO", "status": name, "at": at, "note": ""}


def applied(after_sale_no, line_no, type, reason, amount):
    data = {"after_sale_no": after_sale_no, "order_no": "O-1", "line_no": line_no, "type": type, "reason": reason}
    return data | {"amount": amount, "note": ""}


@pytest.fixture
def send(events, shop, yto_outlet):
    """Post one event; return (status code, answer, number of queries it ran)."""

    def send(event_type, data, at="2026-11-22T10:15:00+08:00", event_id=""):
        with CaptureQueriesContext(connection) as queries:
            response = events.send(event_type, data, occurred_at=at, event_id=event_id)
        return response.status_code, response.json(), len(queries.captured_queries)

    return send


@pytest.fixture
def shipped(send):
    """Order O-1 (two lines) paid and shipped in parcel YT1, in transit."""
    assert send("order.paid", order_paid())[0] == 200
    shipped = SHIPPED
    assert send("parcel.shipped", shipped, at="2026-11-22T11:00:00+08:00")[0] == 200
    assert send("parcel.status", status("in_transit", "2026-11-22T12:00:00+08:00"))[0] == 200
    return send


def test_order_paid_costs_ten_queries_whether_the_buyer_is_new_or_known(send):
    # transaction 2 · idempotency INSERT, its outcome UPDATE · shop · buyer upsert (one INSERT … ON
    # CONFLICT) · order INSERT in a savepoint (3: a taken number fails it) · lines INSERT (one for all)
    assert send("order.paid", order_paid("O-1"))[::2] == (200, 10)
    assert send("order.paid", order_paid("O-2"))[::2] == (200, 10)
    assert Buyer.objects.count() == 1


def test_parcel_shipped_costs_thirteen_queries(send):
    send("order.paid", order_paid())
    shipped = SHIPPED
    # transaction 2 · idempotency 2 · order locked · outlet with its courier · lines · tracking number
    # taken? · parcel INSERT · its lines (one INSERT) · tracking event · shipped lines · order status
    assert send("parcel.shipped", shipped, at="2026-11-22T11:00:00+08:00")[::2] == (200, 13)


def test_a_parcel_status_that_moves_the_parcel_costs_eight_queries(shipped):
    # transaction 2 · idempotency 2 · order locked, found through the parcel · parcel locked ·
    # tracking event · parcel UPDATE; no open after-sale, no service order: nothing more
    code, answer, queries = shipped("parcel.status", status("out_for_delivery", "2026-11-22T13:00:00+08:00"))
    assert (code, answer["parcel"]["status"], queries) == (200, "out_for_delivery", 8)


def test_a_late_parcel_status_costs_seven_queries(shipped):
    # as a move, less the parcel UPDATE: it is only recorded in the timeline
    code, answer, queries = shipped("parcel.status", status("collected", "2026-11-22T11:30:00+08:00"))
    assert (code, answer["parcel"]["status"], queries) == (200, "in_transit", 7)


def test_a_refusal_with_an_open_refund_after_refusal_costs_fifteen_queries(shipped):
    assert shipped("aftersale.applied", applied("AS-1", "1", "refund_only", "not_received", "129.00"))[0] == 200
    # a move (8) · the parcel's after-sales waiting for refusal · order, line, after-sale locked (the
    # after-sales rule's own lock, 3) · deadline UPDATE · change-feed row · history row
    code, answer, queries = shipped("parcel.status", status("refused", "2026-11-22T14:00:00+08:00"))
    assert (code, [a["after_sale_no"] for a in answer["after_sales"]], queries) == (200, ["AS-1"], 15)


def test_an_application_agreed_as_refund_after_refusal_costs_nineteen_queries(shipped):
    # transaction 2 · idempotency 2 · the service's atomic 2 · order, line locked · one COUNT … FILTER
    # for the number, the order's applications and the line's open one · parcel · after-sale INSERT
    # in a savepoint (3) · change-feed row · history "applied" and "status" · buyer notification and
    # its history row · the shop's assistant rule (interception)
    data = applied("AS-1", "1", "refund_only", "not_received", "129.00")
    code, answer, queries = shipped("aftersale.applied", data, at="2026-11-22T12:15:00+08:00")
    assert (code, answer["after_sale"]["status"], queries) == (200, "refund_after_refusal", 19)


def test_an_application_for_the_merchant_costs_sixteen_queries(shipped):
    # as above without the automatic agreement: one history row, no notification
    data = applied("AS-2", "2", "return_refund", "quality", "29.00")
    code, answer, queries = shipped("aftersale.applied", data, at="2026-11-22T12:15:00+08:00")
    assert (code, answer["after_sale"]["status"], queries) == (200, "pending_merchant", 16)


def test_a_withdrawal_costs_eleven_queries(shipped):
    shipped("aftersale.applied", applied("AS-2", "2", "return_refund", "quality", "29.00"))
    # transaction 2 · idempotency 2 · the after-sale with its order and line ids · order, line,
    # after-sale locked · status UPDATE · change-feed row · history row
    code, answer, queries = shipped("aftersale.cancelled", {"after_sale_no": "AS-2"}, at="2026-11-22T15:00:00+08:00")
    assert (code, answer["after_sale"]["status"], queries) == (200, "cancelled", 11)


def test_a_refused_return_shipment_costs_eight_queries_and_writes_nothing(shipped):
    shipped("aftersale.applied", applied("AS-2", "2", "return_refund", "quality", "29.00"))
    before = PlatformEvent.objects.count()
    data = {"after_sale_no": "AS-2", "tracking_no": "SF1", "courier": "SF"}
    # transaction 3 (SAVEPOINT, ROLLBACK TO, RELEASE) · idempotency INSERT · the after-sale's ids ·
    # order, line, after-sale locked · then the 409
    code, answer, queries = shipped("aftersale.return_shipped", data, at="2026-11-22T15:00:00+08:00")
    assert (code, answer["code"], queries) == (409, "invalid_transition", 8)
    assert PlatformEvent.objects.count() == before


def test_a_duplicate_costs_five_queries(shipped):
    data = status("out_for_delivery", "2026-11-22T13:00:00+08:00")
    first = shipped("parcel.status", data, event_id="evt-twice")
    # transaction 3 (SAVEPOINT, ROLLBACK TO, RELEASE) · the idempotency INSERT that the unique id
    # refuses · the stored outcome
    again = shipped("parcel.status", data, event_id="evt-twice")
    assert again == (200, {**first[1], "result": "duplicate"}, 5)
