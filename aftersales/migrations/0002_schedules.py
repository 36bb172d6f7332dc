from django.db import migrations

SCHEDULES = (
    ("after-sales timeout sweep", "aftersales.tasks.sweep_overdue_after_sales"),
    ("buyer notification retries", "aftersales.tasks.retry_notifications"),
)


def create_schedules(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    for name, func in SCHEDULES:
        Schedule.objects.update_or_create(
            name=name, defaults={"func": func, "schedule_type": "I", "minutes": 1, "repeats": -1}
        )


def delete_schedules(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.filter(name__in=[name for name, _func in SCHEDULES]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("aftersales", "0001_initial"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(create_schedules, delete_schedules)]
