"""Audit hashes are neither unique nor indexed: nothing looks a record up by its hash."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0006_audit_checkpoint"),
    ]

    operations = [
        migrations.AlterField(
            model_name="auditrecord",
            name="hash",
            field=models.CharField(max_length=64),
        ),
    ]
