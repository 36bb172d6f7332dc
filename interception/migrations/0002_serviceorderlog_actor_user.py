"""ServiceOrderLog gains who moved the service order: an actor and, for a merchant, the user.

Existing rows are filled from what they say: a launch was the merchant's (its user the service
order's creator) or the assistant rule's, "processing" the carrier task's, any other status the
carrier's result.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def fill_actors(apps, schema_editor):
    ServiceOrder = apps.get_model("interception", "ServiceOrder")
    ServiceOrderLog = apps.get_model("interception", "ServiceOrderLog")
    launched = ServiceOrderLog.objects.filter(to_status="submitted")
    launched.filter(service_order__via="assistant_rule").update(actor="assistant_rule")
    launched.exclude(service_order__via="assistant_rule").update(
        actor="merchant",
        user=Subquery(ServiceOrder.objects.filter(pk=OuterRef("service_order_id")).values("created_by_id")[:1]),
    )
    ServiceOrderLog.objects.exclude(to_status__in=["submitted", "processing"]).update(actor="carrier")


class Migration(migrations.Migration):
    dependencies = [
        ("interception", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="serviceorderlog",
            name="actor",
            field=models.CharField(
                choices=[
                    ("merchant", "merchant"),
                    ("assistant_rule", "after-sales assistant rule"),
                    ("platform", "platform"),
                    ("carrier", "carrier"),
                ],
                default="platform",
                max_length=20,
                verbose_name="actor",
            ),
            preserve_default=False,  # for the existing rows only, corrected just below
        ),
        migrations.AddField(
            model_name="serviceorderlog",
            name="user",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                to=settings.AUTH_USER_MODEL,
                verbose_name="user",
            ),
        ),
        # Backwards the columns go away with whatever they hold: nothing to undo.
        migrations.RunPython(fill_actors, migrations.RunPython.noop),
    ]
