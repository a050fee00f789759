"""The katas are the audit's labelled corpus: each starter breaks its kata's rules, each solution breaks none.

Each tree's Django is loaded once, for every kata at a time; each kata is then audited on its own.
"""

import os
import re
from pathlib import Path

import pytest

from dojo import paths
from dojo.audit import importtime
from dojo.audit.project import discover
from dojo.audit.registry import coverage
from dojo.audit.run import Options, Report, audit
from dojo.manifest import Kata, load_katas

KATAS = load_katas()
SETTINGS = "dojo.settings"


def tree_env(tree: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in {"DOJO_KATAS", "DJANGO_SETTINGS_MODULE"}}
    return {**env, "DOJO_KATA_ROOT": str(tree)}


@pytest.fixture(scope="session")
def kata_facts() -> dict[Path, importtime.Facts]:
    """Every kata's app registry and APIs, per tree, from one load of the harness settings each."""
    facts = {}
    for tree in (paths.KATAS, paths.SOLUTIONS):
        project = discover(tree / KATAS[0].slug, settings=SETTINGS, python=None, env=tree_env(tree))
        facts[tree] = importtime.gather(project, tree_env(tree), apps=[tree / kata.slug for kata in KATAS])
        assert not facts[tree].error, facts[tree].error
    return facts


def audit_kata(tree: Path, kata: Kata, facts: dict[Path, importtime.Facts]) -> Report:
    options = Options(path=tree / kata.slug, settings=SETTINGS, env=tree_env(tree))
    return audit(options, facts=facts[tree])


def judged_lessons(kata: Kata) -> list[str]:
    """The rules the starter's defect breaks (its lessons) that an app folder can be judged on."""
    return sorted({rule for rule in kata.lessons.values() if coverage()[rule].judged_on_app_folder})


@pytest.mark.parametrize("kata", KATAS, ids=[kata.slug for kata in KATAS])
def test_every_starter_is_flagged_for_the_rules_it_teaches(
    kata: Kata, kata_facts: dict[Path, importtime.Facts]
) -> None:
    report = audit_kata(paths.KATAS, kata, kata_facts)
    flagged = {finding.rule for finding in report.findings}
    missed = [rule for rule in judged_lessons(kata) if rule not in flagged and rule not in kata.audit_blind]
    assert not missed, f"the audit does not flag {missed} in katas/{kata.slug}; it found: {report.findings}"
    seen = sorted(set(kata.audit_blind) & flagged)
    assert not seen, f"graders/{kata.slug}/kata.toml says the audit is blind to {seen}, but it flags them now"


@pytest.mark.parametrize("kata", KATAS, ids=[kata.slug for kata in KATAS])
def test_every_solution_is_clean_for_every_rule_judged_on_an_app_folder(
    kata: Kata, kata_facts: dict[Path, importtime.Facts]
) -> None:
    report = audit_kata(paths.SOLUTIONS, kata, kata_facts)
    assert report.import_checks_ran
    found = {f"{finding.rule} {finding.path}:{finding.line}": finding for finding in report.findings}
    unexpected = [finding for key, finding in found.items() if key not in kata.audit_accepted]
    assert unexpected == [], "\n".join(
        f"solutions/{kata.slug}/{finding.path}:{finding.line} {finding.rule} {finding.message}"
        for finding in unexpected
    )
    stale = sorted(set(kata.audit_accepted) - set(found))
    assert not stale, f"graders/{kata.slug}/kata.toml accepts findings the audit no longer makes: {stale}"


def test_a_rule_a_kata_teaches_is_either_judged_or_says_why_not() -> None:
    for kata in KATAS:
        for rule in kata.rules:
            entry = coverage()[rule]
            assert entry.judged_on_app_folder or entry.project_only or entry.unchecked, (kata.slug, rule)


def test_most_lessons_are_judged_on_their_kata() -> None:
    # the corpus proves something only if it covers most of the standard's lessons
    judged = sum(bool(judged_lessons(kata)) for kata in KATAS)
    assert judged >= len(KATAS) * 2 // 3, f"only {judged} of {len(KATAS)} katas have a lesson the audit judges"


NOQA = re.compile(r"#\s*(ruff:\s*)?noqa\b")


@pytest.mark.parametrize("kata", KATAS, ids=[kata.slug for kata in KATAS])
def test_every_noqa_comment_of_a_starter_that_hides_a_finding_is_reported(
    kata: Kata, kata_facts: dict[Path, importtime.Facts]
) -> None:
    report = audit_kata(paths.KATAS, kata, kata_facts)
    commented = {
        (path.relative_to(kata.starter_dir).as_posix(), number)
        for path in kata.starter_dir.rglob("*.py")
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if NOQA.search(line)
    }
    reported = {(item.path, item.line) for item in report.noqa}
    assert reported <= commented
    # each noqa comment in a starter hides a finding of the kata's lesson, so each must be reported
    assert reported == commented, f"noqa comments not reported: {commented - reported}"
