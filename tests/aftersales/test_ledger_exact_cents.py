"""Found by the state machine (tests/property): the ledger's guard compares amounts in floating point on SQLite.

SQLite keeps a DecimalField as a REAL, so `refunded_amount <= paid_amount - amount` computes
5.93 - 5.92 = 0.00999… and refuses to refund the last 5.92 of an order of 5.93 of which 0.01 was
refunded already. PostgreSQL's numeric is exact. The ledger now rounds the sum to the cent in the guard and the
increment (`aftersales.ledger._plus`), on both databases.
"""

from decimal import Decimal

from aftersales import ledger
from shop.models import Order, OrderLine
from tests.shop.factories import make_order


def test_the_last_cents_of_an_order_can_be_refunded_after_another_line_was(shop):
    order = make_order(
        shop,
        order_no="O-1001",
        status=Order.Status.SHIPPED,
        lines=[{"line_no": "1", "paid_amount": "0.01"}, {"line_no": "2", "paid_amount": "5.92"}],
    )
    first, second = OrderLine.objects.select_related("order").filter(order=order).order_by("line_no")
    for line, key in ((first, "a"), (second, "b")):
        ledger.record_refund(
            line=line,
            after_sale=None,
            kind="small_payment",
            amount=line.paid_amount,
            actor="merchant",
            idempotency_key=key,
        )

    order.refresh_from_db()
    assert (order.paid_amount, order.refunded_amount) == (Decimal("5.93"), Decimal("5.93"))
