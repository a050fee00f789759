"""The results document's schema (`dojo/results.schema.json`), and golden documents for what a grading
writes in each way a check or a kata can end: passed, failed for its lesson, and each harness stop.

A golden file is the exact document; a change of format shows as a diff to review. After a deliberate
change, `DOJO_WRITE_GOLDEN=1 uv run pytest tests/test_results_documents.py` writes them again.
"""

import json
import os
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from dojo import paths, results, runner
from dojo.results import Kind, Stop, TestResult, stopped

GOLDEN = Path(__file__).parent / "golden" / "results"
SCHEMA = json.loads((paths.REPO / "dojo" / "results.schema.json").read_text(encoding="utf-8"))
AT = "2026-03-02T10:00:00+00:00"
LESSON = {"rule": "PERF-2", "title": "The statement takes a fixed number of queries", "kind": Kind.LESSON}


def _check(outcome: str, message: str = "", **fields: Any) -> TestResult:
    return TestResult(test="test_query_count_is_constant", outcome=outcome, message=message, broken=False, **fields)


SCENARIOS: dict[str, tuple[TestResult, ...]] = {
    "solved": (_check("passed", **LESSON),),
    "lesson_fails": (_check("failed", "12 queries for 10 invoices; expected at most 3", **LESSON),),
    "check_timeout": (_check("failed", "Timeout (>10.0s) from pytest-timeout.", stop=Stop.CHECK_TIMEOUT, **LESSON),),
    "load_timeout": (
        stopped("kata_loads", Stop.LOAD_TIMEOUT, "Loading n_plus_one did not finish within 20 s, so it was stopped."),
    ),
    "grading_timeout": runner.timed_out(["katas/n_plus_one"], 5, "").katas["n_plus_one"].tests,
    "exit": (stopped("kata_process", Stop.EXIT, "n_plus_one ended its process (exit code 3) at services.py:12."),),
    "crash": (stopped("kata_loads", Stop.CRASH, "The process grading n_plus_one ended with signal 11 (SIGSEGV)."),),
    "unloadable": (
        TestResult(
            test="kata_loads",
            outcome="failed",
            rule=None,
            message="katas/n_plus_one/services.py, line 40: invalid syntax",
            broken=True,
            title="The kata can be loaded",
            kind=Kind.HARNESS,
            stop=Stop.UNLOADABLE,
        ),
    ),
}


def _document(tests: tuple[TestResult, ...]) -> dict[str, Any]:
    kata = results.kata_result("n_plus_one", tests, graded_at=AT)
    document = results.to_document(results.Results(tree="katas/", finished_at=AT, katas={"n_plus_one": kata}))
    written: dict[str, Any] = json.loads(json.dumps(document))  # as written: the vocabularies as their words
    return written


def valid(document: dict[str, Any]) -> list[str]:
    """What is wrong with `document` against the schema (nothing: valid)."""
    validator = jsonschema.Draft202012Validator(SCHEMA)
    return [f"{'/'.join(map(str, error.absolute_path))}: {error.message}" for error in validator.iter_errors(document)]


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_each_way_a_check_ends_writes_its_golden_document(scenario: str) -> None:
    document = _document(SCENARIOS[scenario])
    golden = GOLDEN / f"{scenario}.json"
    if os.environ.get("DOJO_WRITE_GOLDEN") == "1":
        golden.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    assert document == json.loads(golden.read_text(encoding="utf-8"))
    assert valid(document) == []


def test_every_golden_document_is_valid_and_read_back_the_same() -> None:
    goldens = sorted(GOLDEN.glob("*.json"))
    assert [path.stem for path in goldens] == sorted(SCENARIOS)
    for path in goldens:
        document = json.loads(path.read_text(encoding="utf-8"))
        assert valid(document) == [], path.name
        assert results.to_document(results.parse(document)) == document


def test_the_schema_refuses_a_stop_it_does_not_know_and_a_stop_on_a_passing_check() -> None:
    document = _document(SCENARIOS["exit"])
    document["katas"]["n_plus_one"]["tests"][0]["stop"] = "took a nap"
    assert valid(document) != []
    document = _document(SCENARIOS["solved"])
    document["katas"]["n_plus_one"]["tests"][0]["stop"] = "exit"
    assert valid(document) != []


def test_a_harness_stop_is_made_one_way_and_names_its_kind() -> None:
    made = stopped("kata_process", Stop.CRASH, "gone")
    assert (made.outcome, made.broken, made.kind, made.stop) == ("failed", True, Kind.HARNESS, Stop.CRASH)
    assert not made.took_too_long
    assert stopped("kata_loads", Stop.GRADING_TIMEOUT, "slow").took_too_long


def test_a_document_from_before_kinds_and_stops_reads_as_none_of_them() -> None:
    old = json.loads((GOLDEN / "exit.json").read_text(encoding="utf-8"))
    for test in old["katas"]["n_plus_one"]["tests"]:
        del test["kind"], test["stop"]
    (test,) = results.parse(old).katas["n_plus_one"].tests
    assert (test.kind, test.stop) == (None, None)
