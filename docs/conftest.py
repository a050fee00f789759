"""Rule-page examples that need a database run on the real one, from pytest-django.

pytest-codeblocks runs each `python` block as a plain item without fixtures, so a block
cannot reach the database (pytest-django blocks it). A block preceded by the comment
`<!-- pytest.mark.django_db(transaction=True) -->` runs here instead, as a test function
with pytest-django's `transactional_db`: SQLite by default, PostgreSQL under
`DATABASE_URL`. No transaction of the test's own wraps it, so its `atomic()`,
`on_commit()` and `select_for_update()` are Django's, and the code shown on the page is
exactly the code that runs.
"""

import linecache
from collections.abc import Callable
from pathlib import Path

import pytest
from pytest_codeblocks.plugin import TestBlock


def _with_database(code: str, where: str) -> Callable[[None], None]:
    # a failure's traceback shows the page's lines, as for a module
    linecache.cache[where] = (len(code), None, code.splitlines(keepends=True), where)

    def run(transactional_db: None) -> None:
        exec(compile(code, where, "exec"), {"__name__": "__main__"})  # noqa: S102 - the page's own example

    return run


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for index, item in enumerate(items):
        if isinstance(item, TestBlock) and item.get_closest_marker("django_db"):
            function = pytest.Function.from_parent(
                item.parent,
                name=item.name,
                callobj=_with_database(
                    item.obj.code,
                    f"{Path(item.path).name}, block at line {item.obj.lineno}",
                ),
            )
            function.own_markers.extend(item.own_markers)
            items[index] = function
