"""The daily reminder, then escalation, of accepted claims left unpaid, on every deployment."""

from django.db import migrations


def create_schedule(apps, schema_editor):
    # As in 0002: the app's own function keeps one definition of the name, the time and the interval.
    from settlement.claims.tasks import ensure_payment_schedule

    ensure_payment_schedule()


def delete_schedule(apps, schema_editor):
    from settlement.claims.tasks import PAYMENT_SCHEDULE_NAME

    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.filter(name=PAYMENT_SCHEDULE_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("settlement", "0006_claim_payment_reminder"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(create_schedule, delete_schedule)]
