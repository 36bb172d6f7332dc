"""The refund ledger's batch entry point: many refunds at once, all or nothing, within what was paid."""

from decimal import Decimal

import pytest

from aftersales import ledger
from aftersales.models import RefundEntry
from shop.errors import DomainError
from shop.models import Order, OrderLine
from tests.aftersales.factories import make_after_sale, snapshot
from tests.shop.factories import make_order


@pytest.fixture
def order(shop):
    return make_order(
        shop,
        order_no="O-1001",
        status=Order.Status.COMPLETED,
        lines=[{"line_no": "1", "paid_amount": "30.00"}, {"line_no": "2", "paid_amount": "20.00"}],
    )


def refund(line, amount, *, after_sale=None, key=""):
    return ledger.Refund(
        line=OrderLine.objects.select_related("order").get(pk=line.pk),
        after_sale=after_sale,
        kind="refund_only",
        amount=Decimal(amount),
        actor="timeout",
        idempotency_key=key or f"test:{line.pk}",
    )


def test_many_refunds_are_recorded_with_every_counter_moved_once(order):
    first, second = order.lines.order_by("line_no")
    after_sale = make_after_sale(order, line=first, amount="30.00")

    entries = ledger.record_refunds([refund(first, "25.00", after_sale=after_sale), refund(second, "20.00")])

    assert [(e.line_id, e.after_sale_id, e.amount, e.actor) for e in entries] == [
        (first.pk, after_sale.pk, Decimal("25.00"), "timeout"),
        (second.pk, None, Decimal("20.00"), "timeout"),
    ]
    order.refresh_from_db()
    after_sale.refresh_from_db()
    assert order.refunded_amount == Decimal("45.00")
    assert list(order.lines.order_by("line_no").values_list("refunded_amount", flat=True)) == [
        Decimal("25.00"),
        Decimal("20.00"),
    ]
    assert after_sale.refunded_amount == Decimal("25.00")


@pytest.mark.parametrize(
    "setup, amounts",
    [
        ("none", ("30.01", "1.00")),  # the first line would go above what was paid on it
        ("order-counter-ahead", ("10.00", "10.00")),  # each line fits, the order does not
        ("after-sale-asked-less", ("30.00", "1.00")),  # above what the after-sale asked
    ],
    ids=["line", "order", "after-sale"],
)
def test_if_any_refund_would_exceed_what_was_paid_none_is_recorded(order, setup, amounts):
    first, second = order.lines.order_by("line_no")
    after_sale = make_after_sale(order, line=first, amount="20.00")
    if setup == "order-counter-ahead":
        Order.objects.filter(pk=order.pk).update(refunded_amount=Decimal("35.00"))
    before = snapshot()

    with pytest.raises(DomainError) as refused:
        ledger.record_refunds(
            [
                refund(first, amounts[0], after_sale=after_sale if setup == "after-sale-asked-less" else None),
                refund(second, amounts[1]),
            ]
        )

    assert refused.value.code == "amount_exceeds_refundable"
    assert snapshot() == before


def test_the_same_keys_again_return_the_entries_and_move_nothing_more(order):
    first, second = order.lines.order_by("line_no")
    entries = ledger.record_refunds([refund(first, "10.00"), refund(second, "5.00")])

    again = ledger.record_refunds([refund(first, "10.00"), refund(second, "5.00")])

    assert [e.pk for e in again] == [e.pk for e in entries]
    assert RefundEntry.objects.count() == 2
    order.refresh_from_db()
    assert order.refunded_amount == Decimal("15.00")


def test_two_refunds_of_one_line_in_one_call_are_refused(order):
    first = order.lines.get(line_no="1")

    with pytest.raises(ValueError):
        ledger.record_refunds([refund(first, "1.00", key="a"), refund(first, "1.00", key="b")])

    assert RefundEntry.objects.count() == 0


def test_a_refund_of_nothing_is_refused(order):
    with pytest.raises(DomainError) as refused:
        ledger.record_refunds([refund(order.lines.get(line_no="1"), "0.00")])

    assert refused.value.code == "invalid_amount"
