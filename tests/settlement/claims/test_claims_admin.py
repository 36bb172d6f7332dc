"""Operators decide claims in arbitration in the Django admin, through the same service."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from settlement.claims import services as claims
from settlement.models import Claim
from shop.models import User
from tests.settlement.factories import file, intercepted, state
from tests.shop.factories import make_operator, make_outlet_user


@pytest.fixture
def operator(db):
    return make_operator("operator")


@pytest.fixture
def in_arbitration(shop, yto_outlet, merchant):
    claim = file(intercepted(shop, yto_outlet), merchant)
    staff = make_outlet_user(yto_outlet, "outlet-yto")
    return claims.outlet_dispute(claim_id=claim.pk, outlet=yto_outlet, user=staff, reason="包裹已退回")


def decide_url(claim):
    return reverse("admin:settlement_claim_decide", args=[claim.pk])


def test_the_claim_page_links_to_the_decision_form_while_in_arbitration(client, operator, in_arbitration):
    client.force_login(operator)

    response = client.get(reverse("admin:settlement_claim_change", args=[in_arbitration.pk]))

    assertContains(response, f'href="{decide_url(in_arbitration)}" id="decide-arbitration"')
    assertContains(client.get(reverse("admin:settlement_claim_changelist")), "Decide arbitration…")
    assertContains(client.get(decide_url(in_arbitration)), 'id="decide-form"')


def test_the_operator_compensates_through_the_service(client, operator, in_arbitration):
    client.force_login(operator)

    response = client.post(
        decide_url(in_arbitration),
        {"decision": "compensate", "amount": "75.00", "note": "网点无法举证", "payment_reference": ""},
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("admin:settlement_claim_change", args=[in_arbitration.pk])
    claim = Claim.objects.get()
    # No payment reference with the decision: the amount is owed, not yet paid.
    assert (claim.status, claim.accepted_amount, claim.compensated_amount, claim.decision_note) == (
        "awarded",
        Decimal("75.00"),
        None,
        "网点无法举证",
    )
    log = claim.logs.last()
    assert (log.from_status, log.to_status, log.user) == ("arbitration", "awarded", operator)


def test_the_operator_rejects_through_the_service(client, operator, in_arbitration):
    client.force_login(operator)

    client.post(decide_url(in_arbitration), {"decision": "reject", "note": "证据不足"})

    claim = Claim.objects.get()
    assert (claim.status, claim.compensated_amount, claim.decision_note) == ("rejected", None, "证据不足")


def test_a_compensation_above_the_claim_is_refused_in_the_form_and_nothing_changes(client, operator, in_arbitration):
    client.force_login(operator)
    before = state()

    response = client.post(decide_url(in_arbitration), {"decision": "compensate", "amount": "100.01", "note": "x"})

    assert response.status_code == 200
    assertContains(response, "The amount is at most 100.00 yuan")
    assert state() == before


def test_a_claim_not_in_arbitration_shows_no_form(client, operator, shop, yto_outlet, merchant):
    claim = file(intercepted(shop, yto_outlet), merchant)
    client.force_login(operator)

    response = client.get(decide_url(claim))

    assertNotContains(response, 'id="decide-form"')
    assertContains(response, "This claim is not in platform arbitration.")
    before = state()
    client.post(decide_url(claim), {"decision": "reject", "note": "x"})
    assert state() == before


def test_the_action_opens_the_form_for_one_selected_claim(client, operator, in_arbitration):
    client.force_login(operator)

    response = client.post(
        reverse("admin:settlement_claim_changelist"),
        {"action": "decide_arbitration_action", "_selected_action": [in_arbitration.pk]},
    )

    assert (response.status_code, response["Location"]) == (302, decide_url(in_arbitration))


def test_staff_without_the_change_permission_cannot_decide(client, in_arbitration):
    viewer = User.objects.create_user(username="viewer", password="pw", kind="operator", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_claim"))
    client.force_login(viewer)
    before = state()

    assert client.post(decide_url(in_arbitration), {"decision": "reject", "note": "x"}).status_code == 403
    assert state() == before
