"""Faults around a grading get a message that names them, and do no harm elsewhere."""

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dojo import database, paths
from dojo.files import cannot_write
from dojo.results import KataStatus
from dojo.runner import grade

from .conftest import grading_env


def test_postgresql_down_is_said_once_per_kata_as_the_connection_error(tmp_path: Path) -> None:
    """Not "12 of 12 checks fail", as if the code were wrong: no check ran, and the message says why."""
    down = "postgres://postgres@127.0.0.1:1/test"  # port 1: nothing listens there
    grading = grade(["katas/thin_router", "--solutions"], env={"DATABASE_URL": down})
    result = grading.katas["thin_router"]
    assert result.status is KataStatus.BROKEN
    (check,) = result.tests
    assert check.message.startswith("PostgreSQL at 127.0.0.1:1 (DATABASE_URL) could not be reached, so no check ran")
    assert "unset DATABASE_URL to grade on SQLite" in check.message


def test_a_test_database_is_a_leftover_once_its_grading_process_has_ended() -> None:
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, check=True)
    gone = int(ended.stdout)
    names = [f"test_dojo_7_1_{gone}", f"test_dojo_7_1_{os.getpid()}", "test_other_app_1", f"test_test_{gone}", "shop"]
    prefixes = ("test_dojo_", "test_test_")
    assert database.leftovers(names, prefixes) == [f"test_dojo_7_1_{gone}", f"test_test_{gone}"]


def test_leftover_test_databases_are_dropped_by_the_next_grading(on_postgresql: bool) -> None:
    if not on_postgresql:
        pytest.skip("needs the PostgreSQL of DATABASE_URL (CI's second pass)")
    from psycopg import sql

    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, check=True)
    name = f"test_dojo_leftover_{int(ended.stdout)}"
    settings = database._settings()
    assert settings is not None
    with database._connect(settings) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    grade(["katas/thin_router", "--solutions"], env=grading_env())
    with database._connect(settings) as connection:
        left = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchall()
    assert left == [], f"{name} was left on the server"


@pytest.mark.parametrize(
    ("number", "expected", "not_said"),
    [
        (errno.EACCES, "must be a folder you can write to (e.g. `chmod u+w .dojo`)", "read-only file system"),
        (errno.EROFS, "is on a read-only file system", "chmod"),
        (errno.ENOSPC, "the disk (or your quota) is full", "chmod"),
    ],
)
def test_a_state_that_cannot_be_written_gets_the_fix_for_its_cause(number: int, expected: str, not_said: str) -> None:
    message = str(cannot_write(Path("/clone/.dojo/results.json"), OSError(number, os.strerror(number))))
    assert message.startswith(
        f"Could not write .dojo/results.json ({os.strerror(number)}): your progress is not saved."
    )
    assert expected in message
    assert not_said not in message


def test_a_grading_whose_results_cannot_be_kept_says_so_without_a_traceback(tmp_path: Path) -> None:
    not_a_folder = tmp_path / "state"
    not_a_folder.write_text("a file where the state folder should be\n")
    grading = grade(["katas/thin_router"], env={paths.STATE_VARIABLE: str(not_a_folder)})
    assert "thin_router" in grading.katas, grading.output[-2000:]
    assert "Could not write state/results.json" in grading.output
    assert "is not a folder: move that file away" in grading.output
    assert "INTERNALERROR" not in grading.output
    assert "Traceback" not in grading.output
