"""django-q2 entry point for claims: the daily escalation of claims the outlet left unanswered."""

from datetime import datetime, time, timedelta

from django.utils import timezone
from django_q.models import Schedule

from . import rules
from . import services as claims

SCHEDULE_NAME = "claims: escalate unanswered claims to arbitration"
SCHEDULE_FUNC = "settlement.claims.tasks.escalate_unanswered_claims"
RUN_AT = time(2, 0)  # daily, 02:00 Asia/Shanghai: a quiet hour


def escalate_unanswered_claims(now: datetime | None = None) -> int:
    """Daily: submitted claims unanswered for SETTLEMENT_CLAIM_ANSWER_DAYS go to platform arbitration.

    Safe to run twice or concurrently (each claim is re-checked under its row lock). `now` is for tests.
    """
    return claims.escalate_unanswered(now=now or timezone.now())


def ensure_claim_schedule() -> Schedule:
    """Create (or bring up to date) the daily django-q2 schedule of `escalate_unanswered_claims`.

    Called by `manage.py escalate_claims` and by the claims demo seed; running it again changes nothing
    but the function and the interval, so an operator's own `next_run` is kept.
    """
    schedule = Schedule.objects.filter(name=SCHEDULE_NAME).first()
    if schedule is None:
        today = timezone.localdate(timezone.now(), rules.SHANGHAI)
        next_run = datetime.combine(today + timedelta(days=1), RUN_AT, tzinfo=rules.SHANGHAI)
        return Schedule.objects.create(
            name=SCHEDULE_NAME, func=SCHEDULE_FUNC, schedule_type=Schedule.DAILY, repeats=-1, next_run=next_run
        )
    if (schedule.func, schedule.schedule_type, schedule.repeats) != (SCHEDULE_FUNC, Schedule.DAILY, -1):
        schedule.func, schedule.schedule_type, schedule.repeats = SCHEDULE_FUNC, Schedule.DAILY, -1
        schedule.save(update_fields=["func", "schedule_type", "repeats"])
    return schedule
