"""The assistant rule's history: each save of a shop's rule, with what it set and who saved it."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("interception", "0002_serviceorderlog_actor_user"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="AssistantRuleLog",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("enabled", models.BooleanField(verbose_name="enabled")),
                ("min_amount", models.DecimalField(decimal_places=2, max_digits=12, verbose_name="from amount")),
                ("max_amount", models.DecimalField(decimal_places=2, max_digits=12, verbose_name="up to amount")),
                ("couriers", models.JSONField(default=list, verbose_name="couriers")),
                ("at", models.DateTimeField(verbose_name="at")),
                (
                    "rule",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="logs",
                        to="interception.assistantrule",
                    ),
                ),
                (
                    "user",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="by",
                    ),
                ),
            ],
            options={
                "verbose_name": "assistant rule history entry",
                "verbose_name_plural": "assistant rule history",
                "ordering": ["rule", "at", "id"],
            },
        ),
    ]
