"""A leader's open orders by unit and answer deadline (``supervision.selectors``: the orders
page reads the led units' open orders from it)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("supervision", "0002_lease_moved_to_core")]

    operations = [
        migrations.AddIndex(
            model_name="supervisionorder",
            index=models.Index(
                condition=models.Q(("responded_at__isnull", True)),
                fields=["unit", "response_due_at"],
                name="order_open_unit",
            ),
        ),
    ]
