"""The claims demo: claims in every status filed inside their windows, parcels before and after it in the tracker."""

import random
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_q.models import Schedule

from settlement.claims import rules
from settlement.claims import selectors as claim_selectors
from settlement.claims import tasks as tasks_claims
from settlement.claims.demo_seed import seed_claims
from settlement.models import Claim
from shop.models import Shop


@pytest.fixture
def demo(db):
    call_command("seed_demo", orders=80, stdout=StringIO())
    return Shop.objects.get(code="demo-shop")


def test_the_demo_has_claims_in_every_status_each_filed_inside_its_window(demo):
    made = Claim.objects.filter(shop=demo).select_related("service_order")

    assert {claim.status for claim in made} == {"submitted", "accepted", "arbitration", "compensated", "rejected"}
    for claim in made:
        window = rules.claim_window(claim.service_order.succeeded_at)
        assert window.opens_at <= claim.filed_at <= window.closes_at
        assert claim.evidence.count() == 1
        assert claim.logs.first().to_status == "submitted"
    paths = {tuple(claim.logs.values_list("to_status", flat=True)) for claim in made}
    assert ("submitted", "disputed", "arbitration") in paths
    assert ("submitted", "arbitration") in paths  # unanswered, escalated
    assert ("submitted", "disputed", "arbitration", "rejected") in paths
    assert ("submitted", "accepted", "compensated") in paths
    assert Schedule.objects.filter(name=tasks_claims.SCHEDULE_NAME).exists()


def test_the_tracker_shows_parcels_before_inside_and_after_their_window(demo):
    now = timezone.now()

    def count(window):
        return claim_selectors.claim_tracker_for_shop(shop=demo, now=now, window=window).count()

    assert count("upcoming") >= 1
    assert count("open") >= 1
    assert count("closed") >= 1


def test_seeding_claims_again_changes_nothing(demo):
    before = list(Claim.objects.order_by("pk").values_list("pk", "status"))

    seed_claims(stdout=StringIO(), rng=random.Random(2), now=timezone.now())

    assert list(Claim.objects.order_by("pk").values_list("pk", "status")) == before
