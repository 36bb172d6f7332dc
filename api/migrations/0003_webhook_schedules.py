from django.db import migrations

SCHEDULES = (
    ("API: webhook dispatch and delivery", "api.tasks.run_webhooks"),
    ("API: expired idempotent answers", "api.tasks.purge_idempotency"),
)


def create_schedules(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    minutes = {"api.tasks.run_webhooks": 1, "api.tasks.purge_idempotency": 60}
    for name, func in SCHEDULES:
        Schedule.objects.update_or_create(
            name=name, defaults={"func": func, "schedule_type": "I", "minutes": minutes[func], "repeats": -1}
        )


def delete_schedules(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.filter(name__in=[name for name, _func in SCHEDULES]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("api", "0002_webhooks"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(create_schedules, delete_schedules)]
