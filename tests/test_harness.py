"""The grading harness, tested on broken, failing and passing kata trees."""

import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from dojo import paths, results
from dojo.results import KataStatus, Kind, Stop
from dojo.runner import TIMED_OUT, Grading, grade

from .conftest import grading_env
from .test_results_documents import valid

GRADING_TIMEOUT = 5  # seconds: far less than the looping check's own limit in that grading
ENDLESS = "def monthly_statement(*args: object) -> list[object]:\n    while True:\n        pass\n"


def solved_copy(destination: Path, *slugs: str) -> Path:
    for slug in slugs:
        shutil.copytree(paths.SOLUTIONS / slug, destination / slug, ignore=shutil.ignore_patterns("__pycache__"))
    return destination


def append(path: Path, text: str) -> None:
    path.write_text(path.read_text(encoding="utf-8") + text, encoding="utf-8")


@pytest.fixture(scope="module")
def harness_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Grading]:
    """Gradings run side by side: a tree of katas broken in different ways, an endless loop (stopped
    by the check's time limit, and by the whole grading's), and a fix that changes behaviour."""
    broken_katas = ["n_plus_one", "webhook_idempotency", "atomic_external_call", "missing_index", "schemas_not_models"]
    broken = solved_copy(tmp_path_factory.mktemp("broken"), *broken_katas)
    append(broken / "n_plus_one" / "services.py", "\ndef broken(:\n")  # a syntax error
    models = broken / "webhook_idempotency" / "models.py"
    models.write_text("from .nowhere import Missing\n" + models.read_text(), encoding="utf-8")  # a failing import
    (broken / "atomic_external_call" / "clients.py").unlink()  # a deleted file
    migration = next((broken / "missing_index" / "migrations").glob("0002_*.py"))
    append(migration, "\n    operations = [\n")  # an unreadable migration
    # cursor_pagination is not in the tree at all: a deleted kata

    looping = solved_copy(tmp_path_factory.mktemp("looping"), "n_plus_one")
    append(looping / "n_plus_one" / "services.py", "\n\n" + ENDLESS)

    reordered = solved_copy(tmp_path_factory.mktemp("reordered"), "n_plus_one")
    services = reordered / "n_plus_one" / "services.py"
    services.write_text(services.read_text().replace('"issued_on", "number"', '"number"'), encoding="utf-8")

    jobs = {
        "broken": lambda: grade(
            [f"katas/{slug}" for slug in [*broken_katas, "cursor_pagination"]], kata_root=broken, env=grading_env()
        ),
        "looping": lambda: grade(
            ["katas/n_plus_one", "-k", "test_statement_of_a_month_without_invoices_is_empty"],
            kata_root=looping,
            env={**grading_env(), "DOJO_GRADER_TIMEOUT": "1"},
        ),
        "reordered": lambda: grade(["katas/n_plus_one"], kata_root=reordered, env=grading_env()),
        "timed out": lambda: grade(
            ["katas/n_plus_one", "-k", "test_statement_of_a_month_without_invoices_is_empty"],
            kata_root=looping,
            env={**grading_env(), "DOJO_GRADER_TIMEOUT": "120"},
            timeout=GRADING_TIMEOUT,
        ),
    }
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {name: pool.submit(job) for name, job in jobs.items()}
        return {name: future.result() for name, future in futures.items()}


def test_a_syntax_error_fails_its_kata_with_the_file_and_line(harness_runs: dict[str, Grading]) -> None:
    grading = harness_runs["broken"]
    assert grading.katas["n_plus_one"].status == "broken"
    assert "Python cannot read" in grading.output
    assert "n_plus_one/services.py, line" in grading.output
    assert grading.exit_code == 1


def test_a_failing_import_in_models_fails_only_that_kata(harness_runs: dict[str, Grading]) -> None:
    grading = harness_runs["broken"]
    assert grading.katas["webhook_idempotency"].status == "broken"
    assert "models.py failed at line 1" in grading.output


def test_a_deleted_file_and_a_deleted_kata_say_how_to_restore_them(harness_runs: dict[str, Grading]) -> None:
    grading = harness_runs["broken"]
    assert grading.katas["atomic_external_call"].status == "broken"
    assert "No module named 'atomic_external_call.clients'" in grading.output
    assert grading.katas["cursor_pagination"].status == "broken"
    assert "git checkout -- katas/cursor_pagination" in grading.output


def test_an_unreadable_migration_breaks_only_its_kata(harness_runs: dict[str, Grading]) -> None:
    grading = harness_runs["broken"]
    assert grading.katas["missing_index"].status == "broken"
    assert "missing_index/migrations/0002_" in grading.output


def test_the_other_katas_are_still_graded(harness_runs: dict[str, Grading]) -> None:
    assert harness_runs["broken"].katas["schemas_not_models"].status == "solved"


def test_an_endless_loop_is_stopped_by_the_timeout(harness_runs: dict[str, Grading]) -> None:
    grading = harness_runs["looping"]
    assert grading.katas["n_plus_one"].status == "failing"
    assert "look for a loop that never ends" in grading.output
    assert "Timeout (1 s of CPU time)" in grading.output, "the limit is CPU time, not the clock on the wall"


def test_a_grading_that_runs_out_of_time_says_so_and_does_not_raise(harness_runs: dict[str, Grading]) -> None:
    grading = harness_runs["timed out"]
    assert grading.exit_code == TIMED_OUT
    result = grading.katas["n_plus_one"]
    assert result.status == KataStatus.BROKEN
    assert f"stopped after {GRADING_TIMEOUT} s" in result.tests[0].message


def test_a_behaviour_failure_is_not_blamed_on_the_rule(harness_runs: dict[str, Grading]) -> None:
    grading = harness_runs["reordered"]
    failed = [t for t in grading.katas["n_plus_one"].tests if t.outcome == "failed"]
    # the statement's order is behaviour: a guard of the kata may catch it too, under its rule, but the
    # plain behaviour checks that fail are reported as such, not as the lesson
    behaviour = [t for t in failed if t.rule is None]
    assert behaviour, [t.test for t in failed]
    assert "This check is not the lesson" in grading.output


def _stops(grading: Grading, slug: str) -> set[Stop | None]:
    return {test.stop for test in grading.katas[slug].tests if test.outcome == "failed"}


def test_each_stop_of_the_harness_is_recorded_as_such_not_read_from_its_words(
    harness_runs: dict[str, Grading],
) -> None:
    broken = harness_runs["broken"]
    for slug in ("n_plus_one", "webhook_idempotency", "atomic_external_call", "missing_index", "cursor_pagination"):
        assert _stops(broken, slug) == {Stop.UNLOADABLE}, slug
        assert {test.kind for test in broken.katas[slug].tests} == {Kind.HARNESS}, slug
    assert _stops(harness_runs["looping"], "n_plus_one") == {Stop.CHECK_TIMEOUT}
    assert _stops(harness_runs["timed out"], "n_plus_one") == {Stop.GRADING_TIMEOUT}
    assert _stops(harness_runs["reordered"], "n_plus_one") == {None}  # a check's verdict, not a stop
    kinds = {test.kind for test in harness_runs["reordered"].katas["n_plus_one"].tests}
    assert {Kind.LESSON, Kind.BEHAVIOUR} <= kinds


def test_every_grading_writes_a_document_the_schema_accepts(harness_runs: dict[str, Grading]) -> None:
    for name, grading in harness_runs.items():
        document = results.to_document(results.Results(tree="katas/", finished_at=None, katas=grading.katas))
        assert valid(json.loads(json.dumps(document))) == [], name


def test_an_unknown_kata_is_refused_with_the_closest_names() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "katas/n_plus_on", "-p", "no:cacheprovider"],
        cwd=paths.REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 4
    assert "There is no kata named 'n_plus_on'. Did you mean: n_plus_one" in completed.stderr


def test_a_skipped_check_is_shown_with_its_reason_under_rs_and_v(tmp_path: Path) -> None:
    """A skip replayed from the kata's process keeps the shape pytest's `-rs` and `-v` print."""
    tree = solved_copy(tmp_path, "atomic_invariants")  # its PostgreSQL check skips on SQLite
    env = {name: value for name, value in os.environ.items() if name != "DATABASE_URL"}
    command = ["pytest", "katas/atomic_invariants", "--kata-root", str(tree), "-rs", "-v", "-p", "no:cacheprovider"]
    completed = subprocess.run(
        [sys.executable, "-m", *command],
        cwd=paths.REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert "INTERNALERROR" not in completed.stdout + completed.stderr
    assert "SKIPPED [1] graders/atomic_invariants/test_move_seats.py" in completed.stdout
    assert "needs PostgreSQL" in completed.stdout
