"""django-q2 entry points for interception (ids only; each re-reads its rows), and the sweep's schedule."""

from datetime import datetime

from django.utils import timezone
from django_q.models import Schedule

from . import services
from .services.sweep import SWEEP_EVERY

SWEEP_SCHEDULE = "interception: stuck service orders sweep"
SWEEP_FUNC = "interception.tasks.sweep_stuck_service_orders"


def run_service_orders(service_order_ids: list[int]) -> dict[str, int]:
    return services.run_service_orders(service_order_ids)


def run_service_order(service_order_id: int) -> str:
    # Tasks queued before the chunks (one per service order) may still be waiting in the broker.
    return services.run_service_order(service_order_id)


def sweep_stuck_service_orders(now: datetime | None = None) -> dict[str, int]:
    """Every SWEEP_EVERY: ask the carrier about service orders without a result past their courier's
    timeout, and send again those it never received. Safe to run twice or concurrently. `now` for tests."""
    return services.sweep_stuck_service_orders(now=now or timezone.now())


def ensure_sweep_schedule() -> Schedule:
    """Create (or bring up to date) the django-q2 schedule of the sweep; running it again changes nothing
    but the function and the interval, so an operator's own `next_run` is kept."""
    minutes = int(SWEEP_EVERY.total_seconds() // 60)
    wanted = {"func": SWEEP_FUNC, "schedule_type": Schedule.MINUTES, "minutes": minutes, "repeats": -1}
    schedule = Schedule.objects.filter(name=SWEEP_SCHEDULE).first()
    if schedule is None:
        return Schedule.objects.create(name=SWEEP_SCHEDULE, next_run=timezone.now() + SWEEP_EVERY, **wanted)
    if any(getattr(schedule, field) != value for field, value in wanted.items()):
        for field, value in wanted.items():
            setattr(schedule, field, value)
        schedule.save(update_fields=list(wanted))
    return schedule
