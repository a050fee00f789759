"""`dojo-mutate`: the lesson's lines are mutated with cosmic-ray's operators and ours, and graded."""

from pathlib import Path

import pytest
from cosmic_ray.mutating import MutationVisitor

from dojo import mutate
from dojo.manifest import kata_by_slug


def test_the_lesson_lines_are_the_solutions_changed_and_added_lines() -> None:
    starter = "a = 1\nb = 2\nc = 3\n"
    solution = "a = 1\nb = 20\nc = 3\nd = 4\n"
    assert mutate.lesson_lines(starter, solution) == {2, 4}


@pytest.mark.parametrize("operator", list(mutate.OUR_OPERATORS.values()), ids=list(mutate.OUR_OPERATORS))
def test_our_operators_make_the_mutants_they_describe(operator: type[mutate.Operator]) -> None:
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
