import pytest

from shop.models import Parcel
from tests.interception.factories import make_refund_only_in_transit


@pytest.fixture
def refund_only_in_transit(shop, yto_outlet):
    """A refund-only, not-received after-sale on a 129.00 line whose YTO parcel is in transit."""

    def build(order_no="O-1001", status=Parcel.Status.IN_TRANSIT, amount="129.00", outlet=None):
        return make_refund_only_in_transit(shop, outlet or yto_outlet, order_no=order_no, status=status, amount=amount)

    return build
