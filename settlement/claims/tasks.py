"""django-q2 entry points for claims, daily: the escalation of claims the outlet left unanswered, and the
reminder, then the escalation, of claims the outlet accepted but did not pay."""

from datetime import datetime, time, timedelta

from django.utils import timezone
from django_q.models import Schedule

from . import rules
from . import services as claims

SCHEDULE_NAME = "claims: escalate unanswered claims to arbitration"
SCHEDULE_FUNC = "settlement.claims.tasks.escalate_unanswered_claims"
RUN_AT = time(2, 0)  # daily, 02:00 Asia/Shanghai: a quiet hour
PAYMENT_SCHEDULE_NAME = "claims: remind, then escalate, accepted claims left unpaid"
PAYMENT_SCHEDULE_FUNC = "settlement.claims.tasks.chase_unpaid_claims"
PAYMENT_RUN_AT = time(2, 10)


def escalate_unanswered_claims(now: datetime | None = None) -> int:
    """Daily: submitted claims unanswered for SETTLEMENT_CLAIM_ANSWER_DAYS go to platform arbitration.

    Safe to run twice or concurrently (each claim is re-checked under its row lock). `now` is for tests.
    """
    return claims.escalate_unanswered(now=now or timezone.now())


def chase_unpaid_claims(now: datetime | None = None) -> dict[str, int]:
    """Daily: accepted claims still unpaid are reminded to the outlet after SETTLEMENT_CLAIM_PAYMENT_REMINDER_DAYS
    and go to platform arbitration after SETTLEMENT_CLAIM_PAYMENT_ESCALATION_DAYS.

    Safe to run twice or concurrently (each claim is decided under its row lock). `now` is for tests.
    """
    return claims.chase_unpaid(now=now or timezone.now())


def _ensure_daily(name: str, func: str, run_at: time) -> Schedule:
    schedule = Schedule.objects.filter(name=name).first()
    if schedule is None:
        today = timezone.localdate(timezone.now(), rules.SHANGHAI)
        next_run = datetime.combine(today + timedelta(days=1), run_at, tzinfo=rules.SHANGHAI)
        return Schedule.objects.create(
            name=name, func=func, schedule_type=Schedule.DAILY, repeats=-1, next_run=next_run
        )
    if (schedule.func, schedule.schedule_type, schedule.repeats) != (func, Schedule.DAILY, -1):
        schedule.func, schedule.schedule_type, schedule.repeats = func, Schedule.DAILY, -1
        schedule.save(update_fields=["func", "schedule_type", "repeats"])
    return schedule


def ensure_claim_schedule() -> Schedule:
    """Create (or bring up to date) the daily django-q2 schedule of `escalate_unanswered_claims`.

    Called by `manage.py escalate_claims` and by the claims demo seed; running it again changes nothing
    but the function and the interval, so an operator's own `next_run` is kept.
    """
    return _ensure_daily(SCHEDULE_NAME, SCHEDULE_FUNC, RUN_AT)


def ensure_payment_schedule() -> Schedule:
    """Create (or bring up to date) the daily django-q2 schedule of `chase_unpaid_claims`, like the one above."""
    return _ensure_daily(PAYMENT_SCHEDULE_NAME, PAYMENT_SCHEDULE_FUNC, PAYMENT_RUN_AT)
