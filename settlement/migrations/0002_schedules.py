"""The settlement schedules exist on every deployment, not only where the demo seed ran."""

from django.db import migrations


def create_schedules(apps, schema_editor):
    # The app's own functions keep one definition of names, times and intervals; they only touch
    # django-q2's Schedule table, whose migrations are a dependency below.
    from settlement.claims.tasks import ensure_claim_schedule
    from settlement.statements.tasks import ensure_statement_schedules

    ensure_statement_schedules()
    ensure_claim_schedule()


def delete_schedules(apps, schema_editor):
    from settlement.claims.tasks import SCHEDULE_NAME
    from settlement.statements.tasks import CLOSE_SCHEDULE, REFRESH_SCHEDULE

    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.filter(name__in=[CLOSE_SCHEDULE, REFRESH_SCHEDULE, SCHEDULE_NAME]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("settlement", "0001_initial"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(create_schedules, delete_schedules)]
