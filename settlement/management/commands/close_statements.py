from datetime import datetime

from django.core.management.base import BaseCommand, CommandError

from settlement.statements import services as statements
from settlement.statements import tasks
from shop.errors import DomainError


def month_argument(value: str):
    try:
        return datetime.strptime(value, "%Y-%m").date()
    except ValueError:
        raise CommandError(f"--month expects YYYY-MM, not {value!r}") from None


class Command(BaseCommand):
    help = (
        "Close past months: gather their offline interceptions into statements and issue them to the outlets. "
        "Without --month: the previous month and any earlier month still open. Also makes sure the django-q2 "
        "schedules exist (a close at 00:30 Asia/Shanghai every day, which on the 1st closes the month just ended, "
        "and an hourly refresh of the running month)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--month", type=month_argument, help="close only this month (YYYY-MM, must be over)")
        parser.add_argument("--schedule-only", action="store_true", help="only create the schedules, close nothing now")

    def handle(self, *args, **options):
        for schedule in tasks.ensure_statement_schedules():
            self.stdout.write(f"Schedule ready: {schedule.name} (next run {schedule.next_run:%Y-%m-%d %H:%M %Z}).")
        if options["schedule_only"]:
            return
        try:
            if options["month"]:
                issued = statements.close_month(month=options["month"])
            else:
                issued = tasks.close_past_months()
        except DomainError as error:
            raise CommandError(error.message) from None
        self.stdout.write(self.style.SUCCESS(f"{issued} statement(s) issued."))
