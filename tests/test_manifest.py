"""The manifest and the rule registry refuse malformed entries with a message naming the entry and field."""

from pathlib import Path

import pytest

from dojo.manifest import ManifestError, load_katas
from dojo.rules import load_rules

GOOD = """
[[kata]]
slug = "sample_kata"
title = "A sample"
rules = ["PERF-2"]
difficulty = "beginner"
minutes = 15
files = ["services.py"]
hints = ["first", "second"]
lessons = { test_it = "PERF-2" }

[kata.decoys]
wrong = "why it is wrong"
"""


def manifest(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "katas.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_well_formed_entry_is_read(tmp_path: Path) -> None:
    (kata,) = load_katas(manifest(tmp_path, GOOD))
    assert (kata.slug, kata.rules, kata.guards, kata.migrations) == ("sample_kata", ("PERF-2",), {}, False)
    assert kata.rule_for("test_it[case]") == "PERF-2"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('hints = ["first", "second"]', 'hints = ["only one"]'), "'hints' needs at least 2"),
        (('difficulty = "beginner"', 'difficulty = "easy"'), "'difficulty' must be one of"),
        (('rules = ["PERF-2"]', 'rules = ["PERF-9"]'), "unknown rule 'PERF-9'"),
        (('lessons = { test_it = "PERF-2" }', 'lessons = { test_it = "DATA-1" }'), "'DATA-1' is missing"),
        (("minutes = 15", "minutes = 90"), "'minutes' must be a whole number from 5 to 60"),
        (('slug = "sample_kata"', 'slug = "Sample Kata"'), "'slug' = 'Sample Kata' does not match"),
        (("minutes = 15", "minutes = 15\nlevel = 2"), "unknown field(s) level"),
        (('title = "A sample"\n', ""), "field 'title' is missing"),
    ],
)
def test_a_malformed_entry_names_the_kata_and_the_field(tmp_path: Path, change: tuple[str, str], message: str) -> None:
    with pytest.raises(ManifestError) as raised:
        load_katas(manifest(tmp_path, GOOD.replace(*change)))
    assert "katas.toml: kata " in str(raised.value)
    assert message in str(raised.value)


def test_two_katas_with_one_slug_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="appears twice"):
        load_katas(manifest(tmp_path, GOOD + GOOD.replace("[kata.decoys]", "[kata.decoys]")))


def test_the_registry_holds_every_rule_with_a_stable_page() -> None:
    rules = load_rules()
    assert len(rules) == 36
    assert rules["PERF-2"].page == "rules/perf-2/"
