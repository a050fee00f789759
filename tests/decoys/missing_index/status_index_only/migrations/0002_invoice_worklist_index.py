"""The index for the collections worklist."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("missing_index", "0001_initial")]

    operations = [
        migrations.AddIndex(
            model_name="invoice",
            index=models.Index(fields=["status"], name="invoice_status_idx"),
        ),
    ]
