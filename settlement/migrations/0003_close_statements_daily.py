"""The statements' close runs every day at 00:30 Shanghai instead of monthly (see settlement.tasks)."""

from django.db import migrations


def to_daily(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.filter(name="statements: close past months", schedule_type="M").update(schedule_type="D")


def to_monthly(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.filter(name="statements: close past months", schedule_type="D").update(schedule_type="M")


class Migration(migrations.Migration):
    dependencies = [("settlement", "0002_schedules")]

    operations = [migrations.RunPython(to_daily, to_monthly)]
