"""The schedules' task paths follow the tasks into the sub-packages (settlement.statements / settlement.claims).

Matched on the function, so that a schedule an operator made for the same task moves too. The
reverse puts the old paths back (for a rollback to the code before the sub-packages).
"""

from django.db import migrations

MOVED = {
    "settlement.tasks.close_past_months": "settlement.statements.tasks.close_past_months",
    "settlement.tasks.refresh_running_month": "settlement.statements.tasks.refresh_running_month",
    "settlement.tasks_claims.escalate_unanswered_claims": "settlement.claims.tasks.escalate_unanswered_claims",
}


def _rename(apps, renames: dict[str, str]) -> None:
    Schedule = apps.get_model("django_q", "Schedule")
    for old, new in renames.items():
        Schedule.objects.filter(func=old).update(func=new)


def forwards(apps, schema_editor):
    _rename(apps, MOVED)


def backwards(apps, schema_editor):
    _rename(apps, {new: old for old, new in MOVED.items()})


class Migration(migrations.Migration):
    dependencies = [
        ("settlement", "0003_close_statements_daily"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
