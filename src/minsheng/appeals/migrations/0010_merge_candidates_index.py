"""The 并单 candidates' partial index gets a predicate no status filter implies (models.py,
``MERGE_CANDIDATES``), built CONCURRENTLY on PostgreSQL before the old one is dropped."""

from django.db import migrations, models

from minsheng.core.migration_ops import AddIndexConcurrently


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run inside a transaction

    dependencies = [("appeals", "0009_scope_indexes")]

    operations = [
        AddIndexConcurrently(
            model_name="appeal",
            index=models.Index(
                condition=models.Q(
                    (
                        "status__in",
                        [
                            "dispatched",
                            "in_progress",
                            "received",
                            "replied",
                            "returned",
                            "suspended",
                        ],
                    ),
                    ("merged_into__isnull", True),
                ),
                fields=["territory", "created_at"],
                name="appeal_merge_candidates",
            ),
        ),
        migrations.RemoveIndex(model_name="appeal", name="appeal_open_territory_created"),
    ]
