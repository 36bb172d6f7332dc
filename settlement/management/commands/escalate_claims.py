from django.core.management.base import BaseCommand

from settlement.claims.tasks import SCHEDULE_NAME, ensure_claim_schedule, escalate_unanswered_claims


class Command(BaseCommand):
    help = (
        "Send submitted claims the outlet has not answered for SETTLEMENT_CLAIM_ANSWER_DAYS days to platform "
        "arbitration, and make sure the daily django-q2 schedule that does this exists."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--schedule-only", action="store_true", help="only create the daily schedule, escalate nothing now"
        )

    def handle(self, *args, **options):
        ensure_claim_schedule()
        self.stdout.write(f"Schedule ready: {SCHEDULE_NAME} (daily).")
        if options["schedule_only"]:
            return
        moved = escalate_unanswered_claims()
        self.stdout.write(self.style.SUCCESS(f"{moved} unanswered claim(s) sent to platform arbitration."))
