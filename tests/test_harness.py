"""The grading harness, tested on broken, failing and passing kata trees."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dojo import paths
from dojo.runner import grade

from .conftest import grading_env

SLOW_LOOP = "def monthly_statement(*args: object) -> list[object]:\n    while True:\n        pass\n"


@pytest.fixture
def solved(tmp_path: Path) -> Path:
    """A copy of the solutions to break in various ways."""
    tree = tmp_path / "tree"
    shutil.copytree(paths.SOLUTIONS, tree, ignore=shutil.ignore_patterns("__pycache__"))
    return tree


def test_a_syntax_error_fails_its_kata_with_the_line_and_the_others_still_pass(solved: Path) -> None:
    services = solved / "n_plus_one" / "services.py"
    services.write_text(services.read_text() + "\ndef broken(:\n", encoding="utf-8")

    grading = grade(["katas"], kata_root=solved, env=grading_env())

    assert grading.katas["n_plus_one"].status == "broken"
    assert "Python cannot read" in grading.output
    assert "services.py, line" in grading.output
    assert grading.katas["webhook_idempotency"].status == "passed"
    assert grading.katas["atomic_external_call"].status == "passed"
    assert grading.exit_code == 1


def test_a_failing_import_in_models_fails_only_that_kata(solved: Path) -> None:
    models = solved / "webhook_idempotency" / "models.py"
    models.write_text("from .nowhere import Missing\n" + models.read_text(), encoding="utf-8")

    grading = grade(["katas"], kata_root=solved, env=grading_env())

    assert grading.katas["webhook_idempotency"].status == "broken"
    assert "models.py failed at line 1" in grading.output
    assert grading.katas["n_plus_one"].status == "passed"


def test_a_deleted_file_and_a_deleted_kata_say_how_to_restore_them(solved: Path) -> None:
    (solved / "atomic_external_call" / "clients.py").unlink()
    shutil.rmtree(solved / "n_plus_one")

    grading = grade(["katas"], kata_root=solved, env=grading_env())

    assert grading.katas["atomic_external_call"].status == "broken"
    assert "No module named 'atomic_external_call.clients'" in grading.output
    assert grading.katas["n_plus_one"].status == "broken"
    assert "git checkout -- katas/n_plus_one" in grading.output
    assert grading.katas["webhook_idempotency"].status == "passed"


def test_an_endless_loop_is_stopped_by_the_timeout(solved: Path) -> None:
    services = solved / "n_plus_one" / "services.py"
    services.write_text(services.read_text() + "\n\n" + SLOW_LOOP, encoding="utf-8")

    grading = grade(["katas/n_plus_one"], kata_root=solved, env={**grading_env(), "DOJO_GRADER_TIMEOUT": "1"})

    assert grading.katas["n_plus_one"].status == "failing"
    assert "look for a loop that never ends" in grading.output


def test_an_unknown_kata_is_refused_with_the_closest_names() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "katas/n_plus_on", "-p", "no:cacheprovider"],
        cwd=paths.REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 4
    assert "There is no kata named 'n_plus_on'. Did you mean: n_plus_one?" in completed.stderr


def test_a_behaviour_failure_is_not_blamed_on_the_rule(solved: Path) -> None:
    services = solved / "n_plus_one" / "services.py"
    services.write_text(services.read_text().replace('"issued_on", "number"', '"number"'), encoding="utf-8")

    grading = grade(["katas/n_plus_one"], kata_root=solved, env=grading_env())

    failed = [t for t in grading.katas["n_plus_one"].tests if t.outcome == "failed"]
    assert failed
    assert all(t.rule is None for t in failed)
    assert "This check is not the lesson" in grading.output
