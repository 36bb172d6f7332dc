"""The write endpoints go through the pages' own services: same refusals, same history, same effects."""

import base64

import pytest

from aftersales.models import AfterSale, AfterSaleLog, BuyerNotification, EvidenceImage, RefundEntry
from interception.models import ServiceOrder
from shop.models import Order
from tests.aftersales.factories import make_after_sale, snapshot
from tests.api.conftest import PNG, error_of
from tests.shop.factories import make_order

pytestmark = pytest.mark.django_db


def test_agree_refund_refunds_and_names_the_token_in_the_history(api, after_sale):
    response = api.post("/after-sales/AS-5001/actions", {"action": "agree_refund", "version": 1})
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["refunded_amount"], body["version"]) == ("refunded", "100.00", 2)
    assert [(r["kind"], r["amount"], r["actor"]) for r in body["refunds"]] == [("refund_only", "100.00", "merchant")]
    status_row = AfterSaleLog.objects.get(after_sale=after_sale, action="status")
    assert (status_row.actor, status_row.user.get_full_name()) == ("merchant", "ERP: 聚水潭")
    assert RefundEntry.objects.get().user.get_full_name() == "ERP: 聚水潭"
    assert BuyerNotification.objects.filter(after_sale=after_sale, kind="refunded").count() == 1


def test_the_service_user_of_a_token_cannot_log_in(write_token, client):
    user = write_token[0].user
    assert not user.is_active and not user.has_usable_password()
    response = client.post("/accounts/login/", {"username": user.username, "password": ""})
    assert response.status_code == 200 and "_auth_user_id" not in client.session


def test_agree_return_then_confirm_receipt(api, shop, yto_outlet):
    order = make_order(shop, order_no="O-RR", status=Order.Status.SHIPPED)
    make_after_sale(order, after_sale_no="AS-RR", type="return_refund", reason="quality")
    body = api.post("/after-sales/AS-RR/actions", {"action": "agree_return", "version": 1}).json()
    assert body["status"] == "awaiting_buyer_return"
    AfterSale.objects.filter(after_sale_no="AS-RR").update(status="awaiting_merchant_receipt")
    body = api.post("/after-sales/AS-RR/actions", {"action": "confirm_receipt", "version": body["version"]}).json()
    assert (body["status"], body["refunded_amount"]) == ("refunded", "100.00")


def _reject(version=1, **evidence):
    item = {"filename": "sign.png", "content_base64": base64.b64encode(PNG).decode(), **evidence}
    return {
        "action": "reject",
        "version": version,
        "reason_code": "not_as_claimed",
        "note": "图片为证",
        "evidence": [item],
    }


def test_reject_with_an_evidence_image_checked_by_its_bytes(api, after_sale):
    response = api.post("/after-sales/AS-5001/actions", _reject())
    assert response.status_code == 200
    assert response.json()["status"] == "rejected"
    image = EvidenceImage.objects.get()
    assert (image.content_type, image.image.name.endswith(".png")) == ("image/png", True)
    assert image.uploaded_by.get_full_name() == "ERP: 聚水潭"
    after_sale.refresh_from_db()
    assert (after_sale.reject_reason, after_sale.reject_note) == ("not_as_claimed", "图片为证")


@pytest.mark.parametrize(
    "content, message",
    [
        (base64.b64encode(b"GIF89a not accepted").decode(), "Not a PNG, JPEG or WebP image."),
        ("%%%not-base64", "Not valid base64."),
        (base64.b64encode(PNG + b"\x00" * (2 * 1024 * 1024)).decode(), "An evidence image is at most 2 MB."),
    ],
)
def test_reject_refuses_bad_evidence_with_422_and_changes_nothing(api, after_sale, content, message):
    before = snapshot()
    response = api.post("/after-sales/AS-5001/actions", _reject(content_base64=content))
    assert response.status_code == 422
    assert error_of(response) == {"code": "invalid", "message": message, "field": "evidence[0].content_base64"}
    assert snapshot() == before


def test_reject_needs_a_reason_code_and_one_to_five_images(api, after_sale):
    body = _reject()
    del body["reason_code"]
    assert error_of(api.post("/after-sales/AS-5001/actions", body))["field"] == "reason_code"
    body = _reject()
    body["evidence"] = []
    assert error_of(api.post("/after-sales/AS-5001/actions", body))["field"] == "evidence"
    body["evidence"] = _reject()["evidence"] * 6
    assert error_of(api.post("/after-sales/AS-5001/actions", body))["field"] == "evidence"
    body = _reject()
    body["reason_code"] = "because"
    assert error_of(api.post("/after-sales/AS-5001/actions", body))["field"] == "reason_code"


def test_reject_of_a_refund_after_refusal_before_sign_for_is_409(api, after_sale):
    AfterSale.objects.filter(pk=after_sale.pk).update(status="refund_after_refusal")
    before = snapshot()
    response = api.post("/after-sales/AS-5001/actions", _reject())
    assert response.status_code == 409
    assert error_of(response)["code"] == "not_allowed"
    assert snapshot() == before


def test_patch_sets_flag_and_remark_with_history_rows(api, after_sale):
    response = api.patch("/after-sales/AS-5001", {"flag": "blue", "remark": "11-22 已拦截", "version": 1})
    assert response.status_code == 200
    assert {k: response.json()[k] for k in ("flag", "remark", "version")} == {
        "flag": "blue",
        "remark": "11-22 已拦截",
        "version": 2,
    }
    rows = AfterSaleLog.objects.filter(after_sale=after_sale).order_by("id")
    assert [(r.action, r.user.get_full_name()) for r in rows] == [("flag", "ERP: 聚水潭"), ("remark", "ERP: 聚水潭")]


def test_patch_without_version_is_not_checked_and_each_field_is_optional(api, after_sale):
    assert api.patch("/after-sales/AS-5001", {"remark": "only"}).json()["remark"] == "only"
    assert api.patch("/after-sales/AS-5001", {}).json()["version"] == 2


def test_patch_with_a_stale_version_is_409_stale(api, after_sale):
    before = snapshot()
    response = api.patch("/after-sales/AS-5001", {"flag": "red", "version": 5})
    assert (response.status_code, error_of(response)["code"]) == (409, "stale")
    assert error_of(api.patch("/after-sales/AS-5001", {"version": 5}))["code"] == "stale"
    assert snapshot() == before


def test_patch_refuses_a_remark_over_500_and_an_unknown_flag(api, after_sale):
    assert error_of(api.patch("/after-sales/AS-5001", {"remark": "长" * 501}))["field"] == "remark"
    assert error_of(api.patch("/after-sales/AS-5001", {"flag": "pink"}))["field"] == "flag"
    assert api.patch("/after-sales/AS-5001", {"remark": "长" * 500}).status_code == 200


def test_interceptions_by_after_sale_number(api, after_sale):
    response = api.post("/interceptions", {"after_sale_nos": ["AS-5001", "AS-NONE"]})
    assert response.status_code == 202
    body = response.json()
    assert [(so["after_sale_no"], so["mode"], so["fee"]) for so in body["service_orders"]] == [
        ("AS-5001", "online", "3.00")
    ]
    assert body["refused"] == [
        {
            "after_sale_no": "AS-NONE",
            "tracking_no": None,
            "code": "not_found",
            "message": "No after-sale of your shop has this number.",
        }
    ]
    assert ServiceOrder.objects.get().created_by.get_full_name() == "ERP: 聚水潭"


def test_interceptions_by_tracking_number_and_a_second_request_is_refused(api, after_sale):
    first = api.post("/interceptions", {"tracking_nos": ["YT1234567890"]}).json()
    assert len(first["service_orders"]) == 1
    second = api.post("/interceptions", {"tracking_nos": ["YT1234567890"]}).json()
    assert second["service_orders"] == []
    assert [(r["tracking_no"], r["code"]) for r in second["refused"]] == [("YT1234567890", "not_interceptable")]
    assert ServiceOrder.objects.count() == 1


def test_interceptions_follow_the_offline_partnership_fee(api, after_sale):
    from interception.models import Partnership

    Partnership.objects.create(shop=after_sale.shop, outlet=after_sale.parcel.outlet, fee="4.20", status="active")
    body = api.post("/interceptions", {"after_sale_nos": ["AS-5001"]}).json()
    assert [(so["mode"], so["fee"]) for so in body["service_orders"]] == [("offline", "4.20")]


def test_interceptions_need_exactly_one_list_of_1_to_1000(api):
    assert api.post("/interceptions", {}).status_code == 422
    assert api.post("/interceptions", {"after_sale_nos": ["A"], "tracking_nos": ["B"]}).status_code == 422
    assert error_of(api.post("/interceptions", {"tracking_nos": []}))["field"] == "tracking_nos"
    assert error_of(api.post("/interceptions", {"tracking_nos": ["T"] * 1001}))["field"] == "tracking_nos"


def test_another_shops_after_sale_is_not_found_for_an_interception(other_api, after_sale):
    body = other_api.post("/interceptions", {"after_sale_nos": ["AS-5001"]}).json()
    assert body["service_orders"] == []
    assert body["refused"][0]["code"] == "not_found"


def test_an_idempotent_decision_is_answered_twice_and_made_once(api, after_sale):
    headers = {"Idempotency-Key": "decision-1"}
    first = api.post("/after-sales/AS-5001/actions", {"action": "agree_refund", "version": 1}, headers=headers)
    again = api.post("/after-sales/AS-5001/actions", {"action": "agree_refund", "version": 1}, headers=headers)
    assert (first.status_code, again.status_code, again.content) == (200, 200, first.content)
    assert RefundEntry.objects.count() == 1


def test_a_refused_request_stores_no_answer_under_its_key(api, after_sale):
    headers = {"Idempotency-Key": "retry-me"}
    stale = api.post("/after-sales/AS-5001/actions", {"action": "agree_refund", "version": 9}, headers=headers)
    assert stale.status_code == 409
    fixed = api.post("/after-sales/AS-5001/actions", {"action": "agree_refund", "version": 1}, headers=headers)
    assert fixed.status_code == 200  # the refusal was not stored: the corrected request runs


def test_idempotency_keys_are_per_shop(api, other_api, after_sale, other_shop):
    make_order(other_shop, order_no="O-OTHER")
    headers = {"Idempotency-Key": "same-key"}
    assert api.post("/interceptions", {"after_sale_nos": ["AS-5001"]}, headers=headers).status_code == 202
    assert other_api.post("/interceptions", {"after_sale_nos": ["AS-X"]}, headers=headers).status_code == 202


def test_a_stored_answer_expires_after_24_hours(api, after_sale):
    from datetime import timedelta

    from api.models import IdempotencyRecord

    headers = {"Idempotency-Key": "old"}
    api.post("/interceptions", {"after_sale_nos": ["AS-NONE"]}, headers=headers)
    IdempotencyRecord.objects.update(created_at=IdempotencyRecord.objects.get().created_at - timedelta(hours=25))
    response = api.post("/interceptions", {"after_sale_nos": ["AS-5001"]}, headers=headers)
    assert response.status_code == 202
    assert len(response.json()["service_orders"]) == 1


def test_a_parcel_of_another_shop_cannot_be_intercepted_by_tracking_number(other_api, after_sale):
    body = other_api.post("/interceptions", {"tracking_nos": ["YT1234567890"]}).json()
    assert [(r["tracking_no"], r["code"]) for r in body["refused"]] == [("YT1234567890", "not_found")]


def test_a_small_payment_is_a_refund_record_outside_any_after_sale(api, after_sale):
    response = api.post("/orders/O-1001/lines/1/small-payments", {"amount": "10.00", "note": "运费补偿"})
    assert response.status_code == 201
    body = response.json()
    assert body | {"id": None, "at": None} == {
        "id": None,
        "order_no": "O-1001",
        "line_no": "1",
        "after_sale_no": None,
        "kind": "small_payment",
        "amount": "10.00",
        "actor": "merchant",
        "reason": "运费补偿",
        "at": None,
    }
    entry = RefundEntry.objects.get()
    assert (entry.pk, entry.user.get_full_name()) == (body["id"], "ERP: 聚水潭")
    assert api.get("/orders/O-1001/refunds").json()["refundable"] == "90.00"


def test_a_small_payment_above_what_is_left_is_409_and_pays_nothing(api, after_sale):
    assert api.post("/orders/O-1001/lines/1/small-payments", {"amount": "60.00"}).status_code == 201
    before = snapshot()
    response = api.post("/orders/O-1001/lines/1/small-payments", {"amount": "40.01"})
    assert response.status_code == 409
    assert error_of(response)["code"] == "amount_exceeds_refundable"
    assert snapshot() == before
    assert api.post("/orders/O-1001/lines/1/small-payments", {"amount": "40.00"}).status_code == 201


def test_a_small_payment_needs_a_positive_two_decimal_amount(api, after_sale):
    for amount in ("0.00", "-1.00", "10", "1e3", 10):
        response = api.post("/orders/O-1001/lines/1/small-payments", {"amount": amount})
        assert (response.status_code, error_of(response)["field"]) == (422, "amount"), amount


def test_a_small_payment_on_a_missing_or_other_shops_line_is_404(api, other_api, after_sale):
    assert api.post("/orders/O-1001/lines/9/small-payments", {"amount": "1.00"}).status_code == 404
    assert other_api.post("/orders/O-1001/lines/1/small-payments", {"amount": "1.00"}).status_code == 404
    assert RefundEntry.objects.count() == 0


def test_an_idempotent_small_payment_pays_once(api, after_sale):
    headers = {"Idempotency-Key": "pay-1"}
    first = api.post("/orders/O-1001/lines/1/small-payments", {"amount": "10.00"}, headers=headers)
    again = api.post("/orders/O-1001/lines/1/small-payments", {"amount": "10.00"}, headers=headers)
    assert (first.status_code, again.status_code, again.content) == (201, 201, first.content)
    assert RefundEntry.objects.count() == 1
