"""日汇总 by handler (the ranking page's per-handler table), filled by the next full refresh."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def refresh_in_full_next(apps, schema_editor):
    """The new table is empty: the worker's next refresh redoes every day (a full refresh)."""
    apps.get_model("analytics", "RollupState").objects.update(high_event_id=None)


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0004_export_jobs"),
        ("org", "0002_security_duties_and_password_age"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="DailyHandlerRollup",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("day", models.DateField(verbose_name="day received")),
                ("handled", models.PositiveIntegerField(default=0)),
                ("closed", models.PositiveIntegerField(default=0)),
                ("closed_on_time", models.PositiveIntegerField(default=0)),
                ("rated", models.PositiveIntegerField(default=0)),
                ("satisfied", models.PositiveIntegerField(default=0)),
                ("solved", models.PositiveIntegerField(default=0)),
                (
                    "actor",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "lead_unit",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="org.orgunit",
                    ),
                ),
                (
                    "territory",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="org.orgunit",
                    ),
                ),
            ],
            options={
                "verbose_name": "daily handler rollup",
                "verbose_name_plural": "daily handler rollups",
                "indexes": [
                    models.Index(fields=["day"], name="rollup_handler_day"),
                    models.Index(fields=["lead_unit", "day"], name="rollup_handler_unit_day"),
                ],
            },
        ),
        migrations.RunPython(refresh_in_full_next, migrations.RunPython.noop),
    ]
