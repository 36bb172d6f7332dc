from decimal import Decimal

import pytest

from aftersales import services as aftersales_services
from shop.models import Order, Parcel
from tests.shop.factories import at, make_order, make_parcel


@pytest.fixture
def refund_only_in_transit(shop, yto_outlet):
    """A refund-only, not-received after-sale on a 129.00 line whose YTO parcel is in transit."""

    def build(order_no="O-1001", status=Parcel.Status.IN_TRANSIT, amount="129.00", outlet=None):
        order = make_order(shop, order_no=order_no, status=Order.Status.SHIPPED, lines=[{"paid_amount": amount}])
        make_parcel(order, outlet=outlet or yto_outlet, tracking_no=f"YT{order_no}", status=status)
        return aftersales_services.apply_for_after_sale(
            after_sale_no=f"AS-{order_no}",
            order_no=order_no,
            line_no="1",
            type="refund_only",
            reason="not_received",
            amount=Decimal(amount),
            note="",
            at=at("2026-11-22 10:00"),
        )

    return build
