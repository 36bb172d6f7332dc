"""django-q2 entry points for statements, and the schedules that run them.

- every hour: the running month's statements gather the latest offline interceptions;
- every day at 00:30 Asia/Shanghai: past months are closed (their statements issued). Only the run
  on the 1st finds a month to close; the others catch up a missed run or a late fee in minutes.
  Not django-q2's MONTHLY type: it steps a month from the last run *in UTC*, and the 1st 00:30 in
  Shanghai is 16:30 UTC on the last day of the month before, so after February (31 Jan → 28 Feb)
  every later run would land on the 28th. A daily step at a fixed Shanghai time cannot drift.

`ensure_statement_schedules()` creates the schedules: migration 0002 on every deployment, and
`manage.py close_statements` and the demo seed call it again (it only brings them up to date).
Both tasks are safe to run twice or concurrently.
"""

from datetime import datetime, time, timedelta

from django.utils import timezone
from django_q.models import Schedule

from . import rules
from . import services as statements
from .models import Statement

CLOSE_SCHEDULE = "statements: close past months"
CLOSE_FUNC = "settlement.statements.tasks.close_past_months"
CLOSE_AT = time(0, 30)  # on the 1st: late carrier results of the last minutes usually are in by then
CLOSE_SCHEDULE_TYPE = Schedule.DAILY
REFRESH_SCHEDULE = "statements: refresh the running month"
REFRESH_FUNC = "settlement.statements.tasks.refresh_running_month"


def close_past_months(now: datetime | None = None) -> int:
    """Close the previous month and any earlier month still open or with fees on no statement (a missed
    run, or a carrier's late result, catches up). Returns how many statements were issued."""
    now = now or timezone.now()
    running = rules.current_month(now)
    months = {rules.add_months(running, -1)}
    months |= set(
        Statement.objects.filter(status=Statement.Status.OPEN, month__lt=running).values_list("month", flat=True)
    )
    months |= statements.months_with_unlined_fees(before=running)
    return sum(statements.close_month(month=month, now=now) for month in sorted(months))


def refresh_running_month(now: datetime | None = None) -> int:
    """Bring the running month's statements up to date. Returns how many there are."""
    return statements.refresh_current_statements(now=now)


def _ensure(name: str, func: str, schedule_type: str, next_run: datetime) -> Schedule:
    """Create the schedule, or bring its function and type up to date (an operator's next_run is kept)."""
    schedule = Schedule.objects.filter(name=name).first()
    if schedule is None:
        return Schedule.objects.create(name=name, func=func, schedule_type=schedule_type, repeats=-1, next_run=next_run)
    if (schedule.func, schedule.schedule_type, schedule.repeats) != (func, schedule_type, -1):
        schedule.func, schedule.schedule_type, schedule.repeats = func, schedule_type, -1
        schedule.save(update_fields=["func", "schedule_type", "repeats"])
    return schedule


def next_close_at(now: datetime) -> datetime:
    """The first CLOSE_AT in Shanghai after `now`: today's if it is still to come (00:10 on the 1st:
    the previous month closes 20 minutes later, not a month later), else tomorrow's."""
    today = timezone.localtime(now, rules.SHANGHAI).date()
    close = datetime.combine(today, CLOSE_AT, tzinfo=rules.SHANGHAI)
    return close if close > now else datetime.combine(today + timedelta(days=1), CLOSE_AT, tzinfo=rules.SHANGHAI)


def ensure_statement_schedules(now: datetime | None = None) -> list[Schedule]:
    now = now or timezone.now()
    next_hour = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    return [
        _ensure(CLOSE_SCHEDULE, CLOSE_FUNC, CLOSE_SCHEDULE_TYPE, next_close_at(now)),
        _ensure(REFRESH_SCHEDULE, REFRESH_FUNC, Schedule.HOURLY, next_hour),
    ]
