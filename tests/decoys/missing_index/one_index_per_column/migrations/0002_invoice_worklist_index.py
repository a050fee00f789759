"""The index for the collections worklist."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("missing_index", "0001_initial"),
    ]

    operations = [
        migrations.AlterField(
            model_name="invoice",
            name="due_on",
            field=models.DateField(db_index=True),
        ),
        migrations.AlterField(
            model_name="invoice",
            name="status",
            field=models.CharField(
                choices=[("draft", "Draft"), ("open", "Open"), ("paid", "Paid"), ("void", "Void")],
                db_index=True,
                default="draft",
                max_length=8,
            ),
        ),
    ]
