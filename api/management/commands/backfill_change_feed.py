"""manage.py backfill_change_feed: feed rows for after-sales and service orders written without one."""

from django.core.management.base import BaseCommand

from api.backfill import backfill_change_feed


class Command(BaseCommand):
    help = "Give every after-sale and service order without a change-feed row one (e.g. after a bulk seed)."

    def handle(self, *args, **options):
        self.stdout.write(f"{backfill_change_feed()} change-feed rows written.")
