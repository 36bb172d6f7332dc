"""django-q2 entry points for statements, and the schedules that run them.

- every hour: the running month's statements gather the latest offline interceptions;
- on the 1st of each month, 00:30 Asia/Shanghai: past months are closed (their statements issued).

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


def ensure_statement_schedules(now: datetime | None = None) -> list[Schedule]:
    now = now or timezone.now()
    next_month = rules.add_months(rules.current_month(now), 1)
    first_close = datetime.combine(next_month, CLOSE_AT, tzinfo=rules.SHANGHAI)
    next_hour = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    return [
        _ensure(CLOSE_SCHEDULE, CLOSE_FUNC, Schedule.MONTHLY, first_close),
        _ensure(REFRESH_SCHEDULE, REFRESH_FUNC, Schedule.HOURLY, next_hour),
    ]
