"""The stuck service orders sweep runs on every deployment, not only where someone scheduled it by hand."""

from django.db import migrations


def create_schedule(apps, schema_editor):
    # The app's own function keeps one definition of the name and interval; it only touches django-q2's
    # Schedule table, whose migrations are a dependency below.
    from interception.tasks import ensure_sweep_schedule

    ensure_sweep_schedule()


def delete_schedule(apps, schema_editor):
    from interception.tasks import SWEEP_SCHEDULE

    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.filter(name=SWEEP_SCHEDULE).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("interception", "0005_stuck_orders_and_carrier_alerts"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(create_schedule, delete_schedule)]
