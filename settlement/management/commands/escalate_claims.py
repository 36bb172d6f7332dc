from django.core.management.base import BaseCommand

from settlement.claims.tasks import (
    PAYMENT_SCHEDULE_NAME,
    SCHEDULE_NAME,
    chase_unpaid_claims,
    ensure_claim_schedule,
    ensure_payment_schedule,
    escalate_unanswered_claims,
)


class Command(BaseCommand):
    help = (
        "Send submitted claims the outlet has not answered for SETTLEMENT_CLAIM_ANSWER_DAYS days to platform "
        "arbitration; remind the outlet of accepted claims unpaid for SETTLEMENT_CLAIM_PAYMENT_REMINDER_DAYS and "
        "send those unpaid for SETTLEMENT_CLAIM_PAYMENT_ESCALATION_DAYS to arbitration; and make sure the daily "
        "django-q2 schedules that do this exist."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--schedule-only", action="store_true", help="only create the daily schedules, escalate nothing now"
        )

    def handle(self, *args, **options):
        ensure_claim_schedule()
        ensure_payment_schedule()
        self.stdout.write(f"Schedules ready: {SCHEDULE_NAME}; {PAYMENT_SCHEDULE_NAME} (daily).")
        if options["schedule_only"]:
            return
        moved = escalate_unanswered_claims()
        self.stdout.write(self.style.SUCCESS(f"{moved} unanswered claim(s) sent to platform arbitration."))
        chased = chase_unpaid_claims()
        self.stdout.write(
            self.style.SUCCESS(
                f"{chased['reminded']} unpaid claim(s) reminded to the outlet, "
                f"{chased['escalated']} sent to platform arbitration."
            )
        )
