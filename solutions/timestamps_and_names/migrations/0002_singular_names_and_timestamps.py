"""Singular model names and created_at/updated_at timestamps."""

import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("timestamps_and_names", "0001_initial")]

    operations = [
        # RenameModel renames the tables and keeps their rows; a delete and a create would drop them
        migrations.RenameModel(old_name="Organizations", new_name="Organization"),
        migrations.RenameModel(old_name="Invoices", new_name="Invoice"),
        # rows older than this migration get its run time as created_at: when they were made is not known
        migrations.AddField(
            model_name="organization",
            name="created_at",
            field=models.DateTimeField(auto_now_add=True, default=django.utils.timezone.now),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="organization",
            name="updated_at",
            field=models.DateTimeField(auto_now=True),
        ),
        migrations.AddField(
            model_name="invoice",
            name="created_at",
            field=models.DateTimeField(auto_now_add=True, default=django.utils.timezone.now),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="invoice",
            name="updated_at",
            field=models.DateTimeField(auto_now=True),
        ),
    ]
