"""Orders: the whole refund history of an order; small payments on a line."""

import uuid
from decimal import Decimal
from typing import Annotated

from django.utils.translation import gettext as _
from ninja import Path, Router, Status
from pydantic import StringConstraints

from aftersales import services

from .. import selectors, serializers
from ..schemas import OrderRefunds, Refund, SmallPaymentIn, Text
from . import READ_ERRORS, WRITE_ERRORS, invalid, not_found, token_of

router = Router(tags=["orders"])

OrderNo = Annotated[Text, StringConstraints(min_length=1, max_length=64)]
LineNo = Annotated[Text, StringConstraints(min_length=1, max_length=20)]


def _order(token, order_no: str):
    order = selectors.orders(shop=token.shop).filter(order_no=order_no).first()
    if order is None:
        raise not_found(_("Order %(no)s not found.") % {"no": order_no})
    return order


def _money(value: Decimal) -> str:
    return serializers.money(value)


@router.get("/orders/{order_no}/refunds", response={200: OrderRefunds, **READ_ERRORS})
def order_refunds(request, order_no: Path[OrderNo]):
    """Everything paid back on the order, per line and in total, with every refund record, oldest first."""
    token = token_of(request)
    order = _order(token, order_no)
    return {
        "order_no": order.order_no,
        "paid": _money(order.paid_amount),
        "refunded": _money(order.refunded_amount),
        "refundable": _money(order.refundable_amount),
        "lines": [
            {
                "line_no": line.line_no,
                "paid": _money(line.paid_amount),
                "refunded": _money(line.refunded_amount),
                "refundable": _money(line.refundable_amount),
            }
            for line in order.lines.all()
        ],
        "refunds": [
            serializers.refund_entry_json(entry) for entry in selectors.refunds_of_order(shop=token.shop, order=order)
        ],
    }


@router.post("/orders/{order_no}/lines/{line_no}/small-payments", response={201: Refund, **WRITE_ERRORS})
def pay_small_amount(request, order_no: Path[OrderNo], line_no: Path[LineNo], payload: SmallPaymentIn):
    """A small payment on the line: 409 `amount_exceeds_refundable` above what is left to refund on it."""
    token = token_of(request)
    amount = Decimal(payload.amount)
    if amount <= 0:
        raise invalid("amount", _("The amount is more than 0.00."))
    entry = services.pay_small_amount_on_line(
        shop=token.shop,
        order_no=order_no,
        line_no=line_no,
        user=token.user,
        amount=amount,
        reason=payload.note,
        # The API's Idempotency-Key makes repeats safe; without one every call is a new payment.
        idempotency_key=uuid.uuid4().hex,
    )
    entry = selectors.refunds_of_order(shop=token.shop, order=entry.order).get(pk=entry.pk)
    return Status(201, serializers.refund_entry_json(entry))
