import pytest
from django.core.management import call_command

from interception.models import Partnership, ServiceOrder


@pytest.fixture(scope="module")
def seeded(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        call_command("seed_demo", verbosity=0)
        yield
        # Module-scoped data outside the per-test transactions: clean it away for the next modules.
        from django.core.management import call_command as cc

        cc("flush", interactive=False, verbosity=0)


def test_seed_creates_partnerships_in_every_state_with_one_pending_for_outlet_jt(seeded, db):
    states = set(Partnership.objects.values_list("status", flat=True))
    assert states == {"pending", "active", "rejected", "ended"}
    pending = Partnership.objects.get(status="pending")
    assert (pending.shop.code, pending.outlet.code) == ("demo-shop", "JT-SH-001")
    assert Partnership.objects.get(shop__code="demo-shop", outlet__code="YTO-SH-001").status == "active"


def test_seed_creates_service_orders_in_every_status(seeded, db):
    assert set(ServiceOrder.objects.values_list("status", flat=True)) == set(ServiceOrder.Status.values)
    assert set(ServiceOrder.objects.values_list("via", flat=True)) == set(ServiceOrder.Via.values)


def test_seed_is_idempotent_for_interception(seeded, db):
    before = (Partnership.objects.count(), ServiceOrder.objects.count())
    call_command("seed_demo", verbosity=0)
    assert (Partnership.objects.count(), ServiceOrder.objects.count()) == before


def test_seed_turns_the_assistant_rule_on_for_the_demo_shop(seeded, db):
    from interception.models import AssistantRule

    rule = AssistantRule.objects.get(shop__code="demo-shop")
    assert (rule.enabled, str(rule.min_amount), str(rule.max_amount)) == (True, "0.00", "500.00")
