"""Service orders and partnerships move only along their TRANSITIONS tables, each step in the history
with who moved it; the assistant rule's page writes only on a save, with a history row."""

from decimal import Decimal

import pytest
from django.urls import reverse

from interception import extensions, services
from interception.models import (
    AssistantRule,
    AssistantRuleLog,
    Partnership,
    PartnershipLog,
    ServiceOrder,
    ServiceOrderLog,
)
from interception.services.transitions import transition
from shop.errors import DomainError
from tests.interception.factories import make_partnership, make_service_order
from tests.shop.factories import at, make_outlet


def test_a_launch_then_the_carrier_task_then_its_answer_each_write_a_history_row_with_who_moved_it(
    refund_only_in_transit, shop, merchant, django_capture_on_commit_callbacks
):
    after_sale = refund_only_in_transit()

    with django_capture_on_commit_callbacks(execute=True):
        services.launch_interceptions(shop=shop, user=merchant, after_sale_ids=[after_sale.pk], via="detail")

    service_order = ServiceOrder.objects.get()
    assert service_order.status == "succeeded"
    assert list(
        ServiceOrderLog.objects.filter(service_order=service_order).values_list(
            "from_status", "to_status", "actor", "user"
        )
    ) == [
        ("", "submitted", "merchant", merchant.pk),
        ("submitted", "processing", "platform", None),
        ("processing", "succeeded", "carrier", None),
    ]


def test_an_interception_launched_by_the_assistant_rule_is_the_rules_in_its_history(
    refund_only_in_transit, shop, django_capture_on_commit_callbacks
):
    after_sale = refund_only_in_transit()

    services.launch_interceptions(shop=shop, user=None, after_sale_ids=[after_sale.pk], via="assistant_rule")

    assert list(ServiceOrderLog.objects.values_list("to_status", "actor", "user")) == [
        ("submitted", "assistant_rule", None)
    ]


def test_a_service_order_move_the_table_does_not_allow_is_refused_and_changes_nothing(shop, yto_outlet):
    failed = make_service_order(shop, yto_outlet, status="failed")

    with pytest.raises(DomainError) as refused:
        transition(failed, ServiceOrder.Status.SUCCEEDED, actor="carrier", at=at("2026-11-22 11:00"))

    assert refused.value.code == "invalid_transition"
    failed.refresh_from_db()
    assert failed.status == "failed"
    assert not ServiceOrderLog.objects.exists()


def test_every_service_order_and_partnership_status_has_a_row_in_its_table():
    assert set(ServiceOrder.TRANSITIONS) == set(ServiceOrder.Status.values)
    assert set(Partnership.TRANSITIONS) == set(Partnership.Status.values)
    assert ServiceOrder.TRANSITIONS[ServiceOrder.Status.FAILED] == frozenset()
    assert Partnership.TRANSITIONS[Partnership.Status.ENDED] == frozenset()


def test_ending_a_rejected_partnership_is_refused_and_writes_no_history(shop, merchant, yto):
    partnership = make_partnership(shop, make_outlet(yto, code="YTO-SH-009"), status=Partnership.Status.REJECTED)

    with pytest.raises(DomainError, match="already ended"):
        services.end_partnership(partnership_id=partnership.pk, shop=shop, user=merchant)

    partnership.refresh_from_db()
    assert (partnership.status, partnership.ended_at) == ("rejected", None)
    assert PartnershipLog.objects.filter(partnership=partnership).count() == 1  # only the application


def test_the_assistant_page_shows_the_defaults_without_writing_and_a_save_writes_a_history_row(
    client, shop, merchant, yto
):
    client.force_login(merchant)

    page = client.get(reverse("interception:assistant"))

    assert page.status_code == 200
    assert page.context["form"].initial["max_amount"] == Decimal("999.99")
    assert not AssistantRule.objects.exists()

    client.post(
        reverse("interception:assistant"),
        {"enabled": "on", "min_amount": "10.00", "max_amount": "300.00", "couriers": [yto.pk]},
    )

    [entry] = AssistantRuleLog.objects.all()
    assert (entry.rule.shop, entry.user, entry.enabled, entry.min_amount, entry.max_amount, entry.couriers) == (
        shop,
        merchant,
        True,
        Decimal("10.00"),
        Decimal("300.00"),
        ["YTO"],
    )


def test_a_registered_service_order_link_shows_on_its_rows_only(client, shop, merchant, yto_outlet, monkeypatch):
    monkeypatch.setattr(extensions, "_service_order_link_providers", [])
    shown = make_service_order(shop, yto_outlet, status="returning")
    hidden = make_service_order(shop, yto_outlet, status="failed")
    extensions.register_service_order_link(
        lambda so: (
            extensions.ServiceOrderLink(key="probe", label="probe", url=f"/probe/{so.pk}/", css_class="x")
            if so.status == "returning"
            else None
        )
    )
    client.force_login(merchant)

    html = client.get(reverse("interception:service-orders")).content.decode()

    assert f'<a class="badge x" href="/probe/{shown.pk}/" data-probe-for="{shown.pk}">probe</a>' in html
    assert f'data-probe-for="{hidden.pk}"' not in html
