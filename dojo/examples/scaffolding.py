"""Scaffolding for the site's examples that define models of their own.

A rule page that shows a model keeps it out of the project's registry (`Meta.apps = Apps()`), so no
migration creates its table. `tables()` creates it on the test database for the example and drops it
afterwards, so that the example's saves, queries and constraints run on the real database.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection, models


@contextmanager
def tables(*page_models: type[models.Model]) -> Iterator[None]:
    """The tables of `page_models`, on the test database for the duration of the block."""
    with connection.schema_editor() as editor:
        for model in page_models:
            editor.create_model(model)
    try:
        yield
    finally:
        with connection.schema_editor() as editor:
            for model in reversed(page_models):
                editor.delete_model(model)
