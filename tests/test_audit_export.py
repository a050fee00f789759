"""`dojo rules export`: the standard as coding assistants read it, generated from rules.toml and kept in step."""

from pathlib import Path

import pytest

from dojo.audit.export import TARGETS, main, render
from dojo.rules import load_rules


@pytest.mark.parametrize("kind", sorted(TARGETS))
def test_every_rule_is_one_line_with_its_id_words_and_page(kind: str) -> None:
    text = render(kind, "")
    rule_lines = [line for line in text.splitlines() if line.startswith("- ")]
    assert rule_lines == [
        f"- {rule.id}: {rule.text} (docs/{rule.source})" for rule in load_rules().values()
    ]  # in the standard's order, nothing more, nothing less


def test_the_front_matter_is_what_each_tool_reads() -> None:
    assert render("windsurf", "").startswith("---\ntrigger: always_on\nglobs: *.py\n---\n")
    assert render("cursor", "").startswith("---\ndescription: ")
    assert 'globs: "**/*.py"\nalwaysApply: true\n---' in render("cursor", "")
    assert render("agents", "").startswith("# Backend standard")
    assert render("copilot", "").startswith("# Backend standard")


def test_a_published_site_serves_the_links() -> None:
    assert "- PERF-2: " in render("agents", "https://standards.example/")
    assert "(https://standards.example/rules/perf-2/)" in render("agents", "https://standards.example/")


def test_each_file_goes_where_its_tool_reads_it_and_check_keeps_it_in_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DOJO_SITE_URL", raising=False)
    for kind, target in TARGETS.items():
        assert main(["export", "--format", kind]) == 0
        assert (tmp_path / target.path).read_text() == render(kind, "")
        assert main(["export", "--format", kind, "--check"]) == 0
    stale = tmp_path / TARGETS["copilot"].path
    stale.write_text(stale.read_text().replace("- PY-1: ", "- PY-1 (old): "))
    assert main(["export", "--format", "copilot", "--check"]) == 1
