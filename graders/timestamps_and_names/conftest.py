"""The test database of this kata is built from its migrations: when one cannot run, say why in words.

pytest-django builds the database before the first check, so a migration that names a model by a name it
no longer has fails every check at setup with Django's bare `KeyError: ('timestamps_and_names',
'organizations')`. This hook puts the sentence of `explain.migration_failure` in its place.
"""

from collections.abc import Generator
from typing import Any

import pytest

from .explain import SLUG, migration_failure


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    outcome = yield
    report = outcome.get_result()
    error = call.excinfo.value if call.excinfo is not None else None
    if isinstance(error, KeyError | LookupError | ValueError) and SLUG in str(error) and report.failed:
        report.longrepr = (
            f"Django could not build the database from the migrations of {SLUG}: {migration_failure(error)}"
        )
