"""The manifest and the rule registry refuse malformed entries with a message naming the entry and field."""

from pathlib import Path

import pytest

from dojo.manifest import Kata, ManifestError, load_katas
from dojo.rules import load_rules

GOOD = """
[[kata]]
slug = "sample_kata"
title = "A sample"
rules = ["PERF-2"]
difficulty = "beginner"
minutes = 15
"""
DETAILS = """
files = ["services.py"]
hints = ["first", "second"]

[decoys]
wrong = "why it is wrong"

[[threat]]
way = "a shortcut"
caught_by = ["test_it"]
decoys = ["wrong"]
"""
GRADER = """
import pytest


@pytest.mark.lesson("PERF-2")
def test_it() -> None:
    pass
"""


def manifest(tmp_path: Path, text: str, details: str = DETAILS, grader: str = GRADER) -> Path:
    """A manifest in tmp_path, with the kata's details and grader next to it."""
    path = tmp_path / "katas.toml"
    path.write_text(text, encoding="utf-8")
    graders = tmp_path / "graders" / "sample_kata"
    graders.mkdir(parents=True, exist_ok=True)
    (graders / "kata.toml").write_text(details, encoding="utf-8")
    (graders / "test_sample.py").write_text(grader, encoding="utf-8")
    return path


def load(path: Path) -> tuple[Kata, ...]:
    return load_katas(path, path.parent / "graders")


def test_a_well_formed_entry_is_read(tmp_path: Path) -> None:
    (kata,) = load(manifest(tmp_path, GOOD))
    assert (kata.slug, kata.rules, kata.guards, kata.migrations) == ("sample_kata", ("PERF-2",), {}, False)
    assert kata.lessons == {"test_it": "PERF-2"}
    assert [threat.caught_by for threat in kata.threats] == [("test_it",)]
    assert kata.rule_for("test_it[case]") == "PERF-2"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('difficulty = "beginner"', 'difficulty = "easy"'), "'difficulty' must be one of"),
        (('rules = ["PERF-2"]', 'rules = ["PERF-9"]'), "unknown rule 'PERF-9'"),
        (("minutes = 15", "minutes = 90"), "'minutes' must be a whole number from 5 to 60"),
        (('slug = "sample_kata"', 'slug = "Sample Kata"'), "'slug' = 'Sample Kata' does not match"),
        (("minutes = 15", "minutes = 15\nlevel = 2"), "unknown field(s) level"),
        (('title = "A sample"\n', ""), "field 'title' is missing"),
    ],
)
def test_a_malformed_entry_names_the_kata_and_the_field(tmp_path: Path, change: tuple[str, str], message: str) -> None:
    with pytest.raises(ManifestError) as raised:
        load(manifest(tmp_path, GOOD.replace(*change)))
    assert "katas.toml: kata " in str(raised.value)
    assert message in str(raised.value)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('hints = ["first", "second"]', 'hints = ["only one"]'), "'hints' needs at least 2"),
        (('caught_by = ["test_it"]', 'caught_by = ["test_other"]'), "not lessons or guards: test_other"),
        (('decoys = ["wrong"]', 'decoys = ["unknown"]'), "names unknown decoys: unknown"),
        (("files = ", "level = 2\nfiles = "), "unknown field(s) level"),
        (
            ("[[threat]]", '[decoys_postgresql]\nwrong = "again"\n\n[[threat]]'),
            "in both [decoys] and [decoys_postgresql]",
        ),
        (
            ("[[threat]]", "[decoys_postgresql]\nbare = 1\n\n[[threat]]"),
            "'decoys_postgresql' must be a table of strings",
        ),
        (
            ("[[threat]]", '[decoys_sqlite]\nwrong = "again"\n\n[[threat]]'),
            "in both [decoys] and [decoys_sqlite]",
        ),
    ],
)
def test_malformed_details_name_the_file_and_the_field(tmp_path: Path, change: tuple[str, str], message: str) -> None:
    with pytest.raises(ManifestError) as raised:
        load(manifest(tmp_path, GOOD, DETAILS.replace(*change)))
    assert "graders/sample_kata/kata.toml" in str(raised.value)
    assert message in str(raised.value)


@pytest.mark.parametrize(
    ("grader", "message"),
    [
        (GRADER.replace('"PERF-2"', '"DATA-1"'), "'DATA-1' is missing"),
        (GRADER.replace("@pytest.mark.lesson", "@pytest.mark.guard"), "marked @pytest.mark.lesson"),
        (GRADER.replace("@pytest", '@pytest.mark.guard("PERF-2")\n@pytest'), "marked twice"),
    ],
)
def test_the_checks_markers_are_checked(tmp_path: Path, grader: str, message: str) -> None:
    with pytest.raises(ManifestError, match=message):
        load(manifest(tmp_path, GOOD, grader=grader))


def test_a_postgresql_only_decoy_is_a_decoy_rejected_on_postgresql_only(tmp_path: Path) -> None:
    details = DETAILS.replace("[[threat]]", '[decoys_postgresql]\nlocks_late = "why it is wrong there"\n\n[[threat]]')
    (kata,) = load(manifest(tmp_path, GOOD, details.replace('decoys = ["wrong"]', 'decoys = ["wrong", "locks_late"]')))
    assert kata.decoys == {"wrong": "why it is wrong", "locks_late": "why it is wrong there"}
    assert kata.postgresql_decoys == {"locks_late"}
    assert kata.decoy_path("locks_late").name == "locks_late.diff"
    assert [kata.caught_on(name, postgresql=True) for name in kata.decoys] == [True, True]
    assert [kata.caught_on(name, postgresql=False) for name in kata.decoys] == [True, False]


def test_a_sqlite_only_decoy_is_a_decoy_rejected_on_sqlite_only(tmp_path: Path) -> None:
    details = DETAILS.replace("[[threat]]", '[decoys_sqlite]\nno_escape = "why it is wrong there"\n\n[[threat]]')
    (kata,) = load(manifest(tmp_path, GOOD, details.replace('decoys = ["wrong"]', 'decoys = ["wrong", "no_escape"]')))
    assert kata.decoys == {"wrong": "why it is wrong", "no_escape": "why it is wrong there"}
    assert kata.sqlite_decoys == {"no_escape"}
    assert kata.postgresql_decoys == frozenset()
    assert [kata.caught_on(name, postgresql=True) for name in kata.decoys] == [True, False]
    assert [kata.caught_on(name, postgresql=False) for name in kata.decoys] == [True, True]


def test_two_katas_with_one_slug_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="appears twice"):
        load(manifest(tmp_path, GOOD + GOOD))


def test_the_registry_holds_every_rule_with_a_stable_page() -> None:
    rules = load_rules()
    assert len(rules) == 36
    assert rules["PERF-2"].page == "rules/perf-2/"
