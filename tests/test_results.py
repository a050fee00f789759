"""Solved means solved: a kata is solved only when every one of its checks ran and passed.

The results module on its own (statuses, notes, titles, reading and writing), then real gradings
that leave checks out (`-k`, a node id), skip them (`pytest.skip()` in learner code, PostgreSQL-only
checks on SQLite) or print far too much.
"""

import json
import re
import shutil
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from dojo import paths, results
from dojo.results import KataStatus, TestResult
from dojo.runner import Grading, grade, parse_results

from .conftest import grading_env


def check(outcome: str, *, broken: bool = False, message: str = "", test: str = "test_a") -> TestResult:
    return TestResult(test=test, outcome=outcome, rule=None, message=message, broken=broken)


@pytest.mark.parametrize(
    ("tests", "deselected", "status"),
    [
        ([check("passed"), check("passed", test="test_b")], [], KataStatus.SOLVED),
        ([check("passed"), check("failed", test="test_b")], [], KataStatus.FAILING),
        ([check("failed", broken=True)], [], KataStatus.BROKEN),
        ([check("passed"), check("skipped", test="test_b")], [], KataStatus.INCOMPLETE),
        ([check("passed")], ["test_b"], KataStatus.INCOMPLETE),
        ([], [], KataStatus.INCOMPLETE),
        ([check("skipped"), check("failed", test="test_b")], [], KataStatus.FAILING),
    ],
)
def test_a_kata_is_solved_only_when_every_check_ran_and_passed(
    tests: list[TestResult], deselected: list[str], status: KataStatus
) -> None:
    assert results.kata_status(tests, deselected) is status


def test_an_incomplete_kata_says_why_and_what_to_run() -> None:
    tests = [
        check("passed"),
        check("skipped", test="test_b", message=f"{results.NEEDS_POSTGRESQL}: run with …"),
        check("skipped", test="test_c", message="not today"),
    ]
    result = results.kata_result("n_plus_one", tests, deselected=["test_d", "test_e"])
    assert result.status == "incomplete"
    notes = "\n".join(result.notes)
    assert "1 check needs PostgreSQL" in notes
    assert "DATABASE_URL=" in notes
    assert "uv run pytest katas/n_plus_one" in notes
    assert "1 check skipped (not today)" in notes
    assert "2 checks left out of this grading" in notes


def test_statuses_read_as_the_strings_they_were() -> None:
    assert KataStatus.FAILING == "failing"  # type: ignore[comparison-overlap]  # a status against its string, on purpose
    assert KataStatus("passed") is KataStatus.SOLVED  # a results file written before statuses were typed
    assert KataStatus("skipped") is KataStatus.INCOMPLETE


def test_a_check_says_its_own_title() -> None:
    assert results.title_of("test_x", "Another organization's invoice is refused.\n\nMore.") == (
        "Another organization's invoice is refused."
    )
    assert results.title_of("test_query_count_is_within_budget", None) == "Query count is within budget"
    assert results.title_of("test_totals[10-lines]", None) == "Totals [10-lines]"


def test_long_output_is_cut_with_a_count_of_what_is_left_out() -> None:
    shortened = results.shorten("\n".join(f"line {n}" for n in range(1, 1001)))
    assert shortened.splitlines()[-1] == f"… {1000 - results.OUTPUT_LINES} lines more"
    assert "line 1\n" in shortened
    wide = results.shorten("x" * 5000)
    assert wide.endswith(f"… ({5000 - results.OUTPUT_LINE_CHARACTERS} characters more)")
    assert results.shorten("short\ntext") == "short\ntext"


def test_results_are_written_read_and_merged(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    first = results.Results("katas/", "t1", {"a": results.kata_result("a", [check("failed")])})
    results.record(path, first, ["a", "b"])
    second = results.Results("katas/", "t2", {"b": results.kata_result("b", [check("passed")])})
    merged = results.record(path, second, ["a", "b"])
    again = results.read(path)
    assert again == merged
    assert again is not None
    assert {slug: kata.status for slug, kata in again.katas.items()} == {"a": "failing", "b": "solved"}
    assert parse_results(json.loads(path.read_text(encoding="utf-8")))["b"].status is KataStatus.SOLVED
    third = results.Results("katas/", "t3", {"a": results.kata_result("a", [check("passed")])})
    assert set(results.record(path, third, ["a"]).katas) == {"a"}  # a kata no longer listed is forgotten


def test_a_half_written_results_file_is_reported_not_taken_for_nothing(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    assert results.read(path) is None
    path.write_text('{"katas": {"a": {"status": "fail', encoding="utf-8")
    with pytest.raises(results.UnreadableResultsError, match="not a results document"):
        results.read(path, pause=0)


def solved_tree(destination: Path, *slugs: str) -> Path:
    for slug in slugs:
        shutil.copytree(paths.SOLUTIONS / slug, destination / slug, ignore=shutil.ignore_patterns("__pycache__"))
    return destination


def append(path: Path, text: str) -> None:
    path.write_text(path.read_text(encoding="utf-8") + text, encoding="utf-8")


SKIPPING = """

_statement = monthly_statement


def monthly_statement(organization_id: int, year: int, month: int) -> list[StatementLine]:
    import pytest

    pytest.skip("not today")
    return _statement(organization_id, year, month)
"""
CHATTY = """

_quiet = monthly_statement


def monthly_statement(organization_id: int, year: int, month: int) -> list[StatementLine]:
    print("\\n".join(f"debugging line {number}" for number in range(100_000)))
    return _quiet(organization_id, year, month)
"""


@pytest.fixture(scope="module")
def partial_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Grading]:
    skipping = solved_tree(tmp_path_factory.mktemp("skipping"), "n_plus_one")
    append(skipping / "n_plus_one" / "services.py", SKIPPING)
    chatty = solved_tree(tmp_path_factory.mktemp("chatty"), "n_plus_one")
    append(chatty / "n_plus_one" / "services.py", CHATTY)
    node = "katas/n_plus_one/test_monthly_statement.py::test_query_count_is_within_budget"
    jobs: dict[str, Callable[[], Grading]] = {
        "k": lambda: grade(["katas/n_plus_one", "--solutions", "-k", "statement_lists"], env=grading_env()),
        "node": lambda: grade([node, "--solutions"], env=grading_env()),
        "skip": lambda: grade(["katas/n_plus_one"], kata_root=skipping, env=grading_env()),
        "postgresql": lambda: grade(["katas/atomic_invariants", "--solutions"], env=grading_env()),
        "chatty": lambda: grade(["katas/n_plus_one", "-k", "budget"], kata_root=chatty, env=grading_env()),
    }
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {name: pool.submit(job) for name, job in jobs.items()}
        return {name: future.result() for name, future in futures.items()}


def test_a_keyword_selection_never_solves_a_kata(partial_runs: dict[str, Grading]) -> None:
    result = partial_runs["k"].katas["n_plus_one"]
    assert [t.outcome for t in result.tests] == ["passed"]
    assert result.status == KataStatus.INCOMPLETE
    assert "test_query_count_is_within_budget" in result.deselected
    assert any("left out of this grading" in note for note in result.notes)


def test_a_node_id_selection_never_solves_a_kata(partial_runs: dict[str, Grading]) -> None:
    grading = partial_runs["node"]
    result = grading.katas["n_plus_one"]
    assert [t.test for t in result.tests] == ["test_query_count_is_within_budget"]
    assert result.status == KataStatus.INCOMPLETE
    assert "test_statement_of_a_month_without_invoices_is_empty" in result.deselected
    assert "INCOMPLETE" in grading.output


def test_a_skip_in_learner_code_never_solves_a_kata(partial_runs: dict[str, Grading]) -> None:
    result = partial_runs["skip"].katas["n_plus_one"]
    assert "skipped" in {t.outcome for t in result.tests}
    assert result.status == KataStatus.INCOMPLETE
    assert any("skipped (not today)" in note for note in result.notes)


def test_a_check_that_needs_postgresql_is_graded_there_or_the_kata_is_incomplete(
    partial_runs: dict[str, Grading], on_postgresql: bool
) -> None:
    result = partial_runs["postgresql"].katas["atomic_invariants"]  # its race check needs PostgreSQL
    if on_postgresql:
        assert result.status == KataStatus.SOLVED
    else:
        assert result.status == KataStatus.INCOMPLETE
        # "1 check needs PostgreSQL", "2 checks need PostgreSQL"
        assert any(re.search(r"\bneeds? PostgreSQL", note) and "DATABASE_URL=" in note for note in result.notes)


def test_checks_carry_their_titles(partial_runs: dict[str, Grading]) -> None:
    """A check's docstring is its title, with the apostrophes a test name cannot hold."""
    result = partial_runs["k"].katas["n_plus_one"]
    assert result.tests[0].title == "The statement lists the month's invoices in order, with their totals."


def test_long_learner_output_is_shortened_in_the_results_and_on_screen(partial_runs: dict[str, Grading]) -> None:
    grading = partial_runs["chatty"]
    (entry,) = grading.katas["n_plus_one"].tests
    assert "debugging line 0" in entry.output
    assert re.search(r"\n… \d+ lines more", entry.output)
    assert "debugging line 99999" not in entry.output
    assert len(grading.output) < 100_000
