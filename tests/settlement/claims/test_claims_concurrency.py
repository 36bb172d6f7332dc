"""Claims under real concurrency: real threads and transactions, PostgreSQL only (SQLite serialises writers)."""

from collections import Counter
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction

from settlement.claims import services as claims
from settlement.models import Claim, ClaimLog
from tests.concurrency import outcome_kinds, run_together
from tests.settlement.factories import IN_WINDOW, file, intercepted
from tests.shop.factories import make_courier, make_merchant, make_outlet, make_outlet_user, make_shop

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL"),
]


@pytest.fixture
def world():
    shop = make_shop("demo-shop")
    outlet = make_outlet(make_courier("YTO"), code="YTO-SH-001")
    merchant = make_merchant(shop, "merchant")
    staff = make_outlet_user(outlet, "outlet-yto")
    return shop, outlet, merchant, staff, intercepted(shop, outlet)


def test_four_merchants_filing_at_once_make_exactly_one_claim(world):
    _shop, _outlet, merchant, _staff, service_order = world

    def work(i):
        with transaction.atomic():
            return file(service_order, merchant, amount=f"{100 - i}.00").pk

    results = run_together(4, work)

    assert outcome_kinds(results) == Counter({"ok": 1, "DomainError:window": 3})
    assert Claim.objects.count() == 1
    assert ClaimLog.objects.count() == 1


def test_accept_dispute_and_the_escalation_at_once_give_exactly_one_answer(world):
    _shop, outlet, merchant, staff, service_order = world
    claim = file(service_order, merchant)

    def work(i):
        with transaction.atomic():
            if i == 0:
                return claims.outlet_accept(claim_id=claim.pk, outlet=outlet, user=staff, amount=Decimal("90.00"))
            if i == 1:
                return claims.outlet_dispute(claim_id=claim.pk, outlet=outlet, user=staff, reason="已退回")
        return claims.escalate_unanswered(now=IN_WINDOW + timedelta(days=10))

    run_together(3, work)

    claim.refresh_from_db()
    steps = list(claim.logs.values_list("to_status", flat=True))
    assert steps in (
        ["submitted", "accepted"],
        ["submitted", "disputed", "arbitration"],
        ["submitted", "arbitration"],
    )
    assert claim.status == steps[-1]
    assert (claim.accepted_amount is not None) == (claim.status == "accepted")


def test_the_payment_and_two_unpaid_sweeps_at_once_give_exactly_one_outcome(world):
    shop, outlet, merchant, staff, service_order = world
    claim = file(service_order, merchant)
    accepted_at = IN_WINDOW + timedelta(hours=1)
    claims.outlet_accept(claim_id=claim.pk, outlet=outlet, user=staff, amount=Decimal("90.00"), now=accepted_at)

    def work(i):
        if i == 0:
            with transaction.atomic():
                return claims.record_compensation(
                    claim_id=claim.pk, shop=shop, user=merchant, payment_reference="BANK-1", amount=Decimal("90.00")
                )
        return claims.chase_unpaid(now=accepted_at + timedelta(days=14))

    run_together(3, work)

    claim.refresh_from_db()
    steps = list(claim.logs.values_list("to_status", flat=True))
    assert steps in (["submitted", "accepted", "compensated"], ["submitted", "accepted", "arbitration"])
    assert claim.status == steps[-1]
