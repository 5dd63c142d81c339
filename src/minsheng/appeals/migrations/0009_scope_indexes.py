"""Indexes for staff scopes at scale (issue 6), built CONCURRENTLY on PostgreSQL.

- ``AppealEvent.appeal`` loses its own index: ``event_appeal_at`` (appeal, at) starts with it.

- ``appeal_unrated_closed``: the 回访 worklist reads the unrated appeals closed within the
  callback window (``MINSHENG_CALLBACK_DAYS``), not every closed appeal of the years.
- ``assignment_active_co``: a unit's active co-handling shares, which ``visible_to`` tests
  beside ``Appeal.lead_unit``.
"""

import django.db.models.deletion
from django.db import migrations, models

from minsheng.core.migration_ops import AddIndexConcurrently


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run inside a transaction

    dependencies = [("appeals", "0008_appeal_search_index")]

    operations = [
        migrations.AlterField(
            model_name="appealevent",
            name="appeal",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="events",
                to="appeals.appeal",
            ),
        ),
        AddIndexConcurrently(
            model_name="appeal",
            index=models.Index(
                condition=models.Q(("rating", ""), ("status", "closed")),
                fields=["closed_at"],
                name="appeal_unrated_closed",
            ),
        ),
        AddIndexConcurrently(
            model_name="appealassignment",
            index=models.Index(
                condition=models.Q(("active", True), ("role", "co")),
                fields=["unit", "appeal"],
                name="assignment_active_co",
            ),
        ),
    ]
