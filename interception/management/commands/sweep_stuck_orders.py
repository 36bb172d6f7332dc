"""Run the stuck service orders sweep now (and make sure its schedule exists)."""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from interception.tasks import SWEEP_SCHEDULE, ensure_sweep_schedule, sweep_stuck_service_orders


class Command(BaseCommand):
    help = (
        "Ask the carrier about service orders still submitted or processing past their courier's result "
        "timeout, apply its answers and send again those it never received; make sure the schedule exists."
    )

    def add_arguments(self, parser):
        parser.add_argument("--schedule-only", action="store_true", help="only create the schedule, sweep nothing")
        parser.add_argument(
            "--minutes-ahead",
            type=int,
            default=0,
            help="sweep as if this many minutes had passed (to see it work without waiting for the timeout)",
        )

    def handle(self, *args, **options):
        if options["minutes_ahead"] < 0:
            raise CommandError("--minutes-ahead must not be negative")
        ensure_sweep_schedule()
        self.stdout.write(f"Schedule ready: {SWEEP_SCHEDULE}.")
        if options["schedule_only"]:
            return
        outcomes = sweep_stuck_service_orders(now=timezone.now() + timedelta(minutes=options["minutes_ahead"]))
        summary = ", ".join(f"{name}: {count}" for name, count in sorted(outcomes.items())) or "nothing due"
        self.stdout.write(self.style.SUCCESS(f"Swept: {summary}."))
