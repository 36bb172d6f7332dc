"""POST /interceptions tells the same warnings as the back office's preview (additive `warnings`), and
leaves out the after-sales of the warning codes asked in the optional `leave_out`."""

import pytest

from aftersales.models import AfterSale
from interception.models import ServiceOrder
from shop.models import Parcel
from tests.api.conftest import error_of
from tests.interception.factories import make_refund_only_in_transit

pytestmark = pytest.mark.django_db


@pytest.fixture
def three(shop, yto_outlet):
    """AS-O-1 129.00 · AS-O-2 1299.00 · AS-O-3 the merchant stopped by hand · AS-O-4 signed."""
    made = [
        make_refund_only_in_transit(shop, yto_outlet, order_no="O-1", amount="129.00"),
        make_refund_only_in_transit(shop, yto_outlet, order_no="O-2", amount="1299.00"),
        make_refund_only_in_transit(shop, yto_outlet, order_no="O-3", amount="59.00"),
        make_refund_only_in_transit(shop, yto_outlet, order_no="O-4", amount="88.00", status=Parcel.Status.SIGNED),
    ]
    AfterSale.objects.filter(pk=made[2].pk).update(remark="11-28 已拦截")
    return made


NOS = ["AS-O-1", "AS-O-2", "AS-O-3", "AS-O-4"]


def test_the_answer_lists_the_warnings_with_codes_counts_and_after_sale_numbers(api, three):
    response = api.post("/interceptions", {"after_sale_nos": NOS})

    assert response.status_code == 202
    body = response.json()
    assert sorted(so["after_sale_no"] for so in body["service_orders"]) == ["AS-O-1", "AS-O-2", "AS-O-3"]
    assert [(r["after_sale_no"], r["code"]) for r in body["refused"]] == [("AS-O-4", "not_interceptable")]
    assert [(w["code"], w["count"], w["after_sale_nos"], w["left_out"]) for w in body["warnings"]] == [
        ("large_amount", 1, ["AS-O-2"], False),
        ("already_intercepted", 1, ["AS-O-3"], False),
        ("precheck_refused", 1, ["AS-O-4"], True),
    ]
    assert body["warnings"][0]["message"] == "Refund of 1,000.00 yuan or more"


def test_leave_out_skips_those_after_sales_without_refusing_them(api, three):
    body = api.post("/interceptions", {"after_sale_nos": NOS, "leave_out": ["large_amount", "already_intercepted"]})

    assert body.status_code == 202
    body = body.json()
    assert [so["after_sale_no"] for so in body["service_orders"]] == ["AS-O-1"]
    assert [r["after_sale_no"] for r in body["refused"]] == ["AS-O-4"]
    assert [(w["code"], w["left_out"]) for w in body["warnings"]] == [
        ("large_amount", True),
        ("already_intercepted", True),
        ("precheck_refused", True),
    ]
    assert list(ServiceOrder.objects.values_list("after_sale__after_sale_no", flat=True)) == ["AS-O-1"]


def test_an_unknown_leave_out_code_is_refused_and_nothing_is_launched(api, three):
    response = api.post("/interceptions", {"after_sale_nos": NOS, "leave_out": ["cheap"]})

    assert response.status_code == 422
    assert error_of(response)["code"] == "invalid"
    assert ServiceOrder.objects.count() == 0


def test_an_answer_without_warnings_keeps_the_contracts_fields(api, three):
    body = api.post("/interceptions", {"after_sale_nos": ["AS-O-1"]}).json()

    assert set(body) == {"service_orders", "refused", "warnings"}
    assert (len(body["service_orders"]), body["refused"], body["warnings"]) == (1, [], [])


def test_by_tracking_number_the_warnings_name_the_after_sales_too(api, three):
    body = api.post("/interceptions", {"tracking_nos": ["YTO-2"], "leave_out": ["large_amount"]}).json()

    assert (body["service_orders"], body["refused"]) == ([], [])
    assert [(w["code"], w["after_sale_nos"], w["left_out"]) for w in body["warnings"]] == [
        ("large_amount", ["AS-O-2"], True)
    ]
