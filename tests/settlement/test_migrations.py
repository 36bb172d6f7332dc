"""The data migration that moves the schedules' task paths into the sub-packages, both ways."""

import importlib

from django.apps import apps
from django.utils import timezone
from django.utils.module_loading import import_string
from django_q.models import Schedule

migration = importlib.import_module("settlement.migrations.0004_schedule_task_paths")


def test_every_new_task_path_names_a_function():
    for new in migration.MOVED.values():
        assert callable(import_string(new))


def test_the_schedules_move_to_the_new_paths_and_back(db):
    Schedule.objects.all().delete()
    for index, old in enumerate(migration.MOVED):
        Schedule.objects.create(name=f"s{index}", func=old, schedule_type=Schedule.DAILY, next_run=timezone.now())
    Schedule.objects.create(name="other", func="aftersales.tasks.sweep", schedule_type=Schedule.DAILY)

    migration.forwards(apps, None)

    assert sorted(Schedule.objects.values_list("func", flat=True)) == sorted(
        [*migration.MOVED.values(), "aftersales.tasks.sweep"]
    )
    migration.backwards(apps, None)
    assert sorted(Schedule.objects.values_list("func", flat=True)) == sorted(
        [*migration.MOVED, "aftersales.tasks.sweep"]
    )
