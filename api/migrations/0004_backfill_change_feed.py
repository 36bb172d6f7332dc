from django.db import migrations


def backfill(apps, schema_editor):
    from api.backfill import backfill_change_feed

    backfill_change_feed(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [
        ("api", "0003_webhook_schedules"),
        ("shop", "0004_change_feed"),
        ("aftersales", "0001_initial"),
        ("interception", "0001_initial"),
    ]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
