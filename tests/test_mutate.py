"""`dojo-mutate`: the lesson's lines are mutated with cosmic-ray's operators and ours, and graded."""

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from cosmic_ray.mutating import MutationVisitor
from cosmic_ray.operators.operator import Operator

from dojo import mutate, runner
from dojo.manifest import kata_by_slug
from dojo.results import KataResult, KataStatus, Stop, TestResult
from dojo.runner import Grading


def test_the_lesson_lines_are_the_solutions_changed_and_added_lines() -> None:
    starter = "a = 1\nb = 2\nc = 3\n"
    solution = "a = 1\nb = 20\nc = 3\nd = 4\n"
    assert mutate.lesson_lines(starter, solution) == {2, 4}


@pytest.mark.parametrize("operator", list(mutate.OUR_OPERATORS.values()), ids=list(mutate.OUR_OPERATORS))
def test_our_operators_make_the_mutants_they_describe(operator: type[Operator]) -> None:
    for example in operator.examples():
        mutated = MutationVisitor.mutate_code(example.pre_mutation_code, operator(), example.occurrence)
        assert mutated == example.post_mutation_code


def test_a_chained_call_is_dropped_one_at_a_time_and_keeps_the_indentation() -> None:
    source = "def f():\n    return Invoice.objects.select_related('c').prefetch_related('l').all()\n"
    operator = mutate.DropChainedCall()
    first = MutationVisitor.mutate_code(source, operator, 0)
    second = MutationVisitor.mutate_code(source, operator, 1)
    assert first == "def f():\n    return Invoice.objects.prefetch_related('l').all()\n"
    assert second == "def f():\n    return Invoice.objects.select_related('c').all()\n"


def test_only_the_lesson_lines_are_mutated() -> None:
    kata = kata_by_slug()["n_plus_one"]
    source = (kata.solution_dir / "services.py").read_text(encoding="utf-8")
    starter = (kata.starter_dir / "services.py").read_text(encoding="utf-8")
    lines = mutate.lesson_lines(starter, source)
    mutants = mutate.mutants_of(kata)
    assert mutants, "the n_plus_one lesson (select_related, prefetch_related) yields mutants"
    assert {mutant.line for mutant in mutants} <= lines
    assert len({mutant.id for mutant in mutants}) == len(mutants), "mutant ids are unique"


def test_a_mutant_that_undoes_the_lesson_is_killed(tmp_path: Path) -> None:
    kata = kata_by_slug()["n_plus_one"]

    def drops_the_prefetch(mutant: mutate.Mutant) -> bool:
        removed = [line for line in mutant.diff.splitlines() if line.startswith("-") and not line.startswith("---")]
        return any("prefetch_related" in line for line in removed)

    (dropped_prefetch,) = [mutant for mutant in mutate.mutants_of(kata) if drops_the_prefetch(mutant)]
    verdict = mutate.judge(kata, dropped_prefetch, tmp_path, {})
    assert verdict.outcome == "killed", verdict


def test_survivors_and_stale_equivalents_make_the_report_fail() -> None:
    kata = kata_by_slug()["n_plus_one"]
    mutant = mutate.Mutant("services.py:1:AddNot", "services.py", 1, "core/AddNot", 0, "-a\n+not a\n")
    _text, clean = mutate.report([kata], {kata.slug: [mutate.Verdict(mutant, "killed", "by test_x")]})
    assert clean
    text, survived_is_clean = mutate.report([kata], {kata.slug: [mutate.Verdict(mutant, "survived")]})
    assert not survived_is_clean
    assert "services.py:1:AddNot SURVIVED" in text


def test_a_known_survivor_is_reported_and_does_not_fail_the_run() -> None:
    kata = kata_by_slug()["n_plus_one"]
    mutant = mutate.Mutant("services.py:1:AddNot", "services.py", 1, "core/AddNot", 0, "-a\n+not a\n")
    text, clean = mutate.report([kata], {kata.slug: [mutate.Verdict(mutant, "known", "needs a check of X")]})
    assert "survives, known: needs a check of X" in text
    assert clean


def test_a_known_survivor_that_is_killed_now_is_named_as_an_entry_to_take_out() -> None:
    kata = kata_by_slug()["n_plus_one"]
    mutant = mutate.Mutant("services.py:1:AddNot", "services.py", 1, "core/AddNot", 0, "-a\n+not a\n")
    listed = dataclasses.replace(kata, known_survivors={mutant.id: "needs a check of X"})
    text, clean = mutate.report([listed], {kata.slug: [mutate.Verdict(mutant, "killed", "by test_x")]})
    assert "services.py:1:AddNot is killed now, though kata.toml lists it as a known survivor" in text
    assert clean
    text, _clean = mutate.report([kata], {kata.slug: [mutate.Verdict(mutant, "killed", "by test_x")]})
    assert "is killed now" not in text


def test_a_solution_that_fails_its_grader_makes_the_report_fail() -> None:
    kata = kata_by_slug()["n_plus_one"]
    text, clean = mutate.report([kata], {kata.slug: []}, {kata.slug: "by test_x: it failed"})
    assert not clean
    assert "n_plus_one: the reference solution fails its own grader here, by test_x" in text


def test_mutants_that_python_reads_the_same_are_one_and_no_change_is_no_mutant() -> None:
    assert mutate.syntax_of("x = a + 1\n") == mutate.syntax_of("x = a+1  # spaced\n")
    assert mutate.syntax_of("x = a + 1\n") != mutate.syntax_of("x = a - 1\n")
    kata = kata_by_slug()["n_plus_one"]
    source = (kata.solution_dir / "services.py").read_text(encoding="utf-8")
    for mutant in mutate.mutants_of(kata):
        assert mutate.syntax_of(mutate._mutated_source(kata, mutant)) != mutate.syntax_of(source), mutant.id


def _result(*tests: tuple[str, str, str]) -> Grading:
    kata_tests = tuple(
        TestResult(
            test=name,
            outcome=outcome,
            rule=None,
            message=message,
            broken=False,
            stop=Stop.CHECK_TIMEOUT if message.startswith("Timeout (") else None,  # as the plugin records it
        )
        for name, outcome, message in tests
    )
    status = KataStatus.FAILING if any(t.outcome == "failed" for t in kata_tests) else KataStatus.SOLVED
    return Grading(
        exit_code=1, output="", katas={"n_plus_one": KataResult(slug="n_plus_one", status=status, tests=kata_tests)}
    )


OUT_OF_TIME = ("test_a", "failed", "Timeout (>10.0s) from pytest-timeout.")


@pytest.mark.parametrize(
    ("second", "outcome"),
    [
        (_result(("test_a", "passed", "")), "survived"),
        (_result(OUT_OF_TIME), "killed"),
        (_result(("test_a", "failed", "assert 1 == 2")), "killed"),
    ],
    ids=["slow_only_on_a_loaded_machine", "out_of_time_again", "fails_given_the_time"],
)
def test_a_mutant_out_of_time_is_graded_again_with_longer_limits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, second: Grading, outcome: str
) -> None:
    kata = kata_by_slug()["n_plus_one"]
    mutant = mutate.mutants_of(kata)[0]
    gradings = iter([_result(OUT_OF_TIME), second])
    seen: list[dict[str, str]] = []

    def fake_grade(targets: list[str], **kwargs: Any) -> Grading:
        seen.append(kwargs["env"])
        return next(gradings)

    monkeypatch.setattr(mutate, "grade", fake_grade)
    verdict = mutate.judge(kata, mutant, tmp_path, {})
    assert verdict.outcome == outcome
    assert len(seen) == 2
    assert float(seen[1]["DOJO_GRADER_TIMEOUT"]) > float(seen[0].get("DOJO_GRADER_TIMEOUT", "10"))
    if outcome == "killed" and _ran_out(second):
        assert "still out of time" in verdict.reason


def _ran_out(grading: Grading) -> bool:
    return all(test.took_too_long for test in grading.katas["n_plus_one"].tests if test.outcome == "failed")


def test_a_mutant_that_fails_in_time_is_graded_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    kata = kata_by_slug()["n_plus_one"]
    calls: list[str] = []

    def fake_grade(targets: list[str], **kwargs: Any) -> Grading:
        calls.append(targets[0])
        return _result(("test_a", "failed", "assert 3 == 1"))

    monkeypatch.setattr(mutate, "grade", fake_grade)
    verdict = mutate.judge(kata, mutate.mutants_of(kata)[0], tmp_path, {})
    assert (verdict.outcome, verdict.reason, calls) == ("killed", "by test_a", ["katas/n_plus_one"])


def test_a_served_grading_is_a_cold_one(tmp_path: Path) -> None:
    """The server forks each grading from a warm process: the same results, the same exit status."""
    with runner.GradingServer() as server:
        assert server.clean
        served = runner.grade(["katas/n_plus_one"], server=server)
        solved = runner.grade(["katas/n_plus_one", "--solutions"], server=server)
    cold = runner.grade(["katas/n_plus_one"])
    assert served.katas == cold.katas
    assert served.exit_code == cold.exit_code == 1
    assert served.katas["n_plus_one"].status == "failing"
    assert (solved.exit_code, solved.katas["n_plus_one"].status) == (0, "solved")


def test_a_served_grading_out_of_time_is_stopped_and_said_so() -> None:
    with runner.GradingServer() as server:
        grading = runner.grade(["katas/n_plus_one"], server=server, timeout=0.2)
        after = runner.grade(["katas/n_plus_one", "--solutions"], server=server)
    assert grading.exit_code == runner.TIMED_OUT
    assert "timed out" in grading.katas["n_plus_one"].tests[0].message
    assert after.katas["n_plus_one"].status == "solved", "the server grades on after a grading it stopped"
