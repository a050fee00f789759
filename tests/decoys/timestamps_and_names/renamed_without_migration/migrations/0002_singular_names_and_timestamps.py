"""Singular model names and created_at/updated_at timestamps: the operations are still to be written."""

from django.db import migrations
from django.db.migrations.operations.base import Operation


class Migration(migrations.Migration):
    dependencies = [("timestamps_and_names", "0001_initial")]

    operations: list[Operation] = []
