"""The interception admin: every changelist opens for an operator; changes go through the services."""

from decimal import Decimal

import pytest
from django.contrib import admin
from django.urls import reverse
from django.utils import timezone

from interception.models import (
    AssistantRule,
    CarrierCallback,
    FeeCharge,
    InterceptionBatch,
    Partnership,
    PartnershipLog,
    ServiceOrder,
    ServiceOrderLog,
)
from shop.models import Order
from tests.aftersales.factories import make_after_sale
from tests.shop.factories import make_courier, make_operator, make_order, make_outlet, make_parcel

P = Partnership.Status
MODELS = [
    Partnership,
    PartnershipLog,
    ServiceOrder,
    ServiceOrderLog,
    CarrierCallback,
    FeeCharge,
    InterceptionBatch,
    AssistantRule,
]


@pytest.fixture
def operator(db):
    return make_operator("operator")


@pytest.fixture
def operator_client(client, operator):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    client.force_login(operator)
    return client


@pytest.fixture
def jt_outlet(db):
    return make_outlet(make_courier("JT", name="极兔"), code="JT-SH-001")


@pytest.fixture
def rows(shop, merchant, jt_outlet):
    """One row of every interception model."""
    partnership = Partnership.objects.create(shop=shop, outlet=jt_outlet, fee=Decimal("4.50"), proposed_by=merchant)
    PartnershipLog.objects.create(partnership=partnership, to_status=P.PENDING, user=merchant, note="applied")
    order = make_order(shop, order_no="O-ADMIN-1", status=Order.Status.SHIPPED)
    parcel = make_parcel(order, outlet=jt_outlet, tracking_no="JT-ADMIN-1")
    batch = InterceptionBatch.objects.create(shop=shop, created_by=merchant, via="bulk")
    service_order = ServiceOrder.objects.create(
        shop=shop,
        after_sale=make_after_sale(order, parcel=parcel, after_sale_no="AS-ADMIN-1"),
        parcel=parcel,
        courier=jt_outlet.courier,
        outlet=jt_outlet,
        batch=batch,
        mode="online",
        fee=Decimal("3.00"),
        via="bulk",
        status="succeeded",
        succeeded_at=timezone.now(),
    )
    ServiceOrderLog.objects.create(service_order=service_order, to_status="succeeded", at=timezone.now())
    CarrierCallback.objects.create(
        callback_id="cb-1", service_order=service_order, status="succeeded", occurred_at=timezone.now()
    )
    FeeCharge.objects.create(
        shop=shop,
        service_order=service_order,
        courier=jt_outlet.courier,
        outlet=jt_outlet,
        mode="online",
        amount=Decimal("3.00"),
        charged_at=timezone.now(),
    )
    rule = AssistantRule.objects.create(shop=shop, enabled=True)
    rule.couriers.add(jt_outlet.courier)
    return {"partnership": partnership, "service_order": service_order}


def admin_url(model, view="changelist", *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def test_every_interception_model_is_registered():
    assert all(admin.site.is_registered(model) for model in MODELS)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_the_changelist_and_the_first_rows_page_open_for_an_operator(operator_client, rows, model):
    changelist = operator_client.get(admin_url(model))
    assert changelist.status_code == 200
    assert changelist.context["cl"].result_count == 1

    obj = model.objects.get()
    assert operator_client.get(admin_url(model, "change", obj.pk)).status_code == 200


@pytest.mark.parametrize(
    ("model", "query"),
    [
        (Partnership, {"status__exact": "pending", "q": "JT-SH-001"}),
        (Partnership, {"q": "demo-shop"}),
        (
            ServiceOrder,
            {"status__exact": "succeeded", "mode__exact": "online", "via__exact": "bulk", "q": "JT-ADMIN-1"},
        ),
        (ServiceOrder, {"q": "AS-ADMIN-1"}),
        (FeeCharge, {"mode__exact": "online", "q": "JT-ADMIN-1"}),
    ],
)
def test_filters_and_search_find_the_row(operator_client, rows, model, query):
    response = operator_client.get(admin_url(model), query)

    assert response.status_code == 200
    assert response.context["cl"].result_count == 1


def test_the_service_order_changelist_runs_a_fixed_number_of_queries(
    operator_client, rows, django_assert_max_num_queries
):
    with django_assert_max_num_queries(12):
        operator_client.get(admin_url(ServiceOrder))


@pytest.mark.parametrize("model", [FeeCharge, ServiceOrder, PartnershipLog, ServiceOrderLog, CarrierCallback])
def test_ledger_and_history_rows_cannot_be_added_changed_or_deleted(rf, operator, model):
    request = rf.get("/")
    request.user = operator
    model_admin = admin.site._registry[model]

    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_delete_permission(request)
    assert model_admin.has_view_permission(request)


def test_partnerships_are_not_added_or_edited_in_the_admin(operator_client, rows):
    model_admin = admin.site._registry[Partnership]

    assert "status" in model_admin.get_readonly_fields(None)
    assert "fee" in model_admin.get_readonly_fields(None)
    assert operator_client.get(admin_url(Partnership, "add")).status_code == 403


def _act(client, action, partnership):
    return client.post(admin_url(Partnership), {"action": action, "_selected_action": [partnership.pk]}, follow=True)


def test_the_approve_action_calls_the_service_and_writes_history(operator_client, rows):
    partnership = rows["partnership"]

    response = _act(operator_client, "approve_partnerships", partnership)

    assert response.status_code == 200
    partnership.refresh_from_db()
    assert partnership.status == P.ACTIVE
    assert partnership.logs.order_by("id").last().to_status == "active"
    assert partnership.logs.order_by("id").last().user.username == "operator"


def test_the_reject_action_records_the_operator_note(operator_client, rows):
    partnership = rows["partnership"]

    _act(operator_client, "reject_partnerships", partnership)

    partnership.refresh_from_db()
    assert (partnership.status, partnership.outlet_note) == (P.REJECTED, "Rejected by a platform operator.")


def test_the_end_action_ends_and_a_refused_action_changes_nothing(operator_client, rows):
    partnership = rows["partnership"]
    _act(operator_client, "end_partnerships", partnership)
    partnership.refresh_from_db()
    assert partnership.status == P.ENDED
    logs = partnership.logs.count()

    response = _act(operator_client, "approve_partnerships", partnership)

    partnership.refresh_from_db()
    assert partnership.status == P.ENDED
    assert partnership.logs.count() == logs
    assert "Only a pending application can be approved." in [str(m) for m in response.context["messages"]][-1]
