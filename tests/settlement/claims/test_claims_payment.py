"""An accepted claim the outlet does not pay: reminded to the outlet after the reminder days, sent to
platform arbitration after the escalation days, by a daily task that is safe to run twice."""

import importlib
from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.apps import apps
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from django_q.models import Schedule

from settlement import locks
from settlement.claims import rules
from settlement.claims import services as claims
from settlement.claims import tasks as tasks_claims
from settlement.models import Claim, ClaimLog
from tests.settlement.factories import IN_WINDOW, file, intercepted, state
from tests.shop.factories import make_operator, make_outlet_user

C = Claim.Status
ACCEPTED_AT = IN_WINDOW + timedelta(hours=2)
DAY = timedelta(days=1)
SECOND = timedelta(seconds=1)


# --- the rule ------------------------------------------------------------------------------------------

SEVEN, FOURTEEN = timedelta(days=7), timedelta(days=14)


@pytest.mark.parametrize(
    "waited, reminded, expected",
    [
        (timedelta(0), False, None),
        (SEVEN - SECOND, False, None),  # one second before the reminder
        (SEVEN, False, rules.REMIND),  # exactly 7 × 24 h: reminded
        (SEVEN + SECOND, False, rules.REMIND),
        (SEVEN, True, None),  # reminded already: once only
        (FOURTEEN - SECOND, True, None),
        (FOURTEEN - SECOND, False, rules.REMIND),
        (FOURTEEN, True, rules.ESCALATE),  # exactly 14 × 24 h: arbitration
        (FOURTEEN, False, rules.ESCALATE),  # never reminded (the worker was down): arbitration all the same
        (timedelta(days=400), True, rules.ESCALATE),
    ],
)
def test_the_payment_step_at_its_boundaries(waited, reminded, expected):
    reminded_at = ACCEPTED_AT + SEVEN if reminded else None
    step = rules.payment_step(
        ACCEPTED_AT + waited,
        accepted_at=ACCEPTED_AT,
        reminded_at=reminded_at,
        remind_after=SEVEN,
        escalate_after=FOURTEEN,
    )
    assert step == expected


def test_the_payment_days_come_from_the_settings(settings):
    settings.SETTLEMENT_CLAIM_PAYMENT_REMINDER_DAYS = 2
    settings.SETTLEMENT_CLAIM_PAYMENT_ESCALATION_DAYS = 5
    assert rules.payment_due(ACCEPTED_AT + 2 * DAY - SECOND, ACCEPTED_AT, None) is None
    assert rules.payment_due(ACCEPTED_AT + 2 * DAY, ACCEPTED_AT, None) == rules.REMIND
    assert rules.payment_due(ACCEPTED_AT + 5 * DAY, ACCEPTED_AT, ACCEPTED_AT) == rules.ESCALATE
    assert rules.payment_escalation_at(ACCEPTED_AT) == ACCEPTED_AT + 5 * DAY


def test_the_default_figures_are_seven_and_fourteen_days():
    assert (rules.payment_reminder_days(), rules.payment_escalation_days()) == (7, 14)


# --- the services, on the locked row ------------------------------------------------------------------


@pytest.fixture
def outlet_staff(yto_outlet):
    return make_outlet_user(yto_outlet, "outlet-yto")


@pytest.fixture
def accepted(shop, yto_outlet, merchant, outlet_staff):
    claim = file(intercepted(shop, yto_outlet), merchant)
    return claims.outlet_accept(
        claim_id=claim.pk, outlet=yto_outlet, user=outlet_staff, amount=Decimal("80.00"), now=ACCEPTED_AT
    )


def test_nothing_happens_before_the_reminder_days(accepted):
    before = state()
    assert claims.chase_unpaid(now=ACCEPTED_AT + 7 * DAY - SECOND) == {"reminded": 0, "escalated": 0}
    assert state() == before


def test_after_seven_days_the_outlet_is_reminded_once_with_a_history_row_by_the_system(accepted):
    now = ACCEPTED_AT + 7 * DAY

    assert claims.chase_unpaid(now=now) == {"reminded": 1, "escalated": 0}
    assert claims.chase_unpaid(now=now + DAY) == {"reminded": 0, "escalated": 0}  # a second run: nothing more

    claim = Claim.objects.get()
    assert (claim.status, claim.payment_reminded_at) == (C.ACCEPTED, now)
    log = claim.logs.last()
    assert (log.from_status, log.to_status, log.user, log.actor, log.at) == (
        C.ACCEPTED,
        C.ACCEPTED,
        None,
        ClaimLog.Actor.PAYMENT_TIMEOUT,
        now,
    )
    deadline = rules.format_moment(ACCEPTED_AT + 14 * DAY)
    assert log.note == (
        "payment reminder to the outlet: 80.00 yuan accepted 7 days ago and not paid; "
        f"unpaid on {deadline}, the claim goes to platform arbitration"
    )
    assert claim.logs.filter(actor=ClaimLog.Actor.PAYMENT_TIMEOUT).count() == 1


def test_after_fourteen_days_the_claim_goes_to_arbitration_once_and_an_operator_decides_it(accepted):
    claims.chase_unpaid(now=ACCEPTED_AT + 7 * DAY)
    now = ACCEPTED_AT + 14 * DAY

    assert claims.chase_unpaid(now=now - SECOND) == {"reminded": 0, "escalated": 0}
    assert claims.chase_unpaid(now=now) == {"reminded": 0, "escalated": 1}
    assert claims.chase_unpaid(now=now) == {"reminded": 0, "escalated": 0}

    claim = Claim.objects.get()
    assert claim.status == C.ARBITRATION
    assert list(claim.logs.values_list("from_status", "to_status", "actor")) == [
        ("", C.SUBMITTED, ""),
        (C.SUBMITTED, C.ACCEPTED, ""),
        (C.ACCEPTED, C.ACCEPTED, ClaimLog.Actor.PAYMENT_TIMEOUT),
        (C.ACCEPTED, C.ARBITRATION, ClaimLog.Actor.PAYMENT_TIMEOUT),
    ]
    assert claim.logs.last().note == "80.00 yuan accepted 14 days ago and not paid: platform arbitration"
    decided = claims.decide_arbitration(
        claim_id=claim.pk, user=make_operator("operator"), compensate=True, amount=Decimal("80.00"), note="网点未付"
    )
    assert (decided.status, decided.accepted_amount, decided.compensated_amount) == (C.AWARDED, Decimal("80.00"), None)


def test_a_claim_the_merchant_recorded_as_paid_is_left_alone(accepted, shop, merchant):
    claims.record_compensation(
        claim_id=accepted.pk, shop=shop, user=merchant, payment_reference="BANK-9", amount=Decimal("80.00")
    )
    before = state()
    assert claims.chase_unpaid(now=ACCEPTED_AT + 30 * DAY) == {"reminded": 0, "escalated": 0}
    assert state() == before


def test_submitted_and_disputed_claims_are_not_chased_for_payment(shop, yto_outlet, merchant):
    file(intercepted(shop, yto_outlet), merchant)
    assert claims.chase_unpaid(now=IN_WINDOW + 30 * DAY) == {"reminded": 0, "escalated": 0}
    assert Claim.objects.get().status == C.SUBMITTED


def test_the_decision_is_taken_on_the_locked_row(accepted, shop, merchant, monkeypatch):
    """The sweep lists the claim as accepted; the merchant records the payment before the sweep locks it:
    the locked row is checked again and nothing is written."""
    real_lock = locks.claim
    calls = []

    def lock_after_the_payment(claim_id, **scope):
        calls.append(scope)
        if len(calls) == 1:  # the sweep's lock: the merchant's payment (its own lock) comes first
            claims.record_compensation(
                claim_id=claim_id, shop=shop, user=merchant, payment_reference="BANK-9", amount=Decimal("80.00")
            )
        return real_lock(claim_id, **scope)

    monkeypatch.setattr(locks, "claim", lock_after_the_payment)
    assert claims.chase_unpaid(now=ACCEPTED_AT + 14 * DAY) == {"reminded": 0, "escalated": 0}
    assert calls == [{}, {"shop": shop}]
    claim = Claim.objects.get()
    assert claim.status == C.COMPENSATED
    assert not claim.logs.filter(actor=ClaimLog.Actor.PAYMENT_TIMEOUT).exists()


# --- the outlet's pages -------------------------------------------------------------------------------


def test_the_outlet_sees_the_reminder_on_its_claim_page_and_list(client, accepted, outlet_staff):
    client.force_login(outlet_staff)
    detail = reverse("outlet:claim-detail", kwargs={"pk": accepted.pk})
    page = client.get(detail).content.decode()
    assert 'id="payment"' in page and 'id="payment-reminder"' not in page
    assert 'id="unpaid-reminder"' not in client.get(reverse("outlet:claims")).content.decode()

    claims.chase_unpaid(now=ACCEPTED_AT + 7 * DAY)

    page = client.get(detail).content.decode()
    assert "Reminder: you accepted 80.00 yuan on" in page
    assert "unpaid-claim rule" in page  # the history names the system actor
    listing = client.get(reverse("outlet:claims")).content.decode()
    assert "You accepted 1 claim that the merchant has not recorded as paid" in listing


# --- the daily task, its schedule and its migration ---------------------------------------------------


def test_the_daily_task_takes_now_and_the_command_creates_both_schedules(accepted):
    assert tasks_claims.chase_unpaid_claims(now=ACCEPTED_AT + 7 * DAY) == {"reminded": 1, "escalated": 0}
    out = StringIO()
    call_command("escalate_claims", stdout=out)  # now: long after the acceptance
    assert Claim.objects.get().status == C.ARBITRATION
    assert "0 unpaid claim(s) reminded to the outlet, 1 sent to platform arbitration." in out.getvalue()
    schedule = Schedule.objects.get(name=tasks_claims.PAYMENT_SCHEDULE_NAME)
    assert (schedule.func, schedule.schedule_type, schedule.repeats) == (
        "settlement.claims.tasks.chase_unpaid_claims",
        Schedule.DAILY,
        -1,
    )
    assert timezone.localtime(schedule.next_run).strftime("%H:%M") == "02:10"


def test_the_data_migration_creates_the_schedule_and_its_reverse_removes_it(db):
    migration = importlib.import_module("settlement.migrations.0007_claim_payment_schedule")
    Schedule.objects.filter(name=tasks_claims.PAYMENT_SCHEDULE_NAME).delete()
    migration.create_schedule(apps, None)
    migration.create_schedule(apps, None)
    assert Schedule.objects.filter(func=tasks_claims.PAYMENT_SCHEDULE_FUNC).count() == 1
    migration.delete_schedule(apps, None)
    assert not Schedule.objects.filter(name=tasks_claims.PAYMENT_SCHEDULE_NAME).exists()
