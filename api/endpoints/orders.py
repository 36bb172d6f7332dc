"""Orders: the whole refund history of an order; small payments on a line."""

from decimal import Decimal
from typing import Annotated

from django.utils.translation import gettext as _
from ninja import Path, Router
from pydantic import StringConstraints

from .. import selectors, serializers
from ..schemas import OrderRefunds, Text
from . import READ_ERRORS, not_found, token_of

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
