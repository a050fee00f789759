"""The index for the collections worklist: the operations are still to be written."""

from django.db import migrations
from django.db.migrations.operations.base import Operation


class Migration(migrations.Migration):
    dependencies = [("missing_index", "0001_initial")]

    operations: list[Operation] = []
