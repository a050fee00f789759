"""The site: it builds strictly, every example runs, every rule has its page and every page is reachable."""

import re
from pathlib import Path

import pytest
import yaml

from dojo import paths, site
from dojo.manifest import load_katas
from dojo.rules import load_rules

FENCE = re.compile(r"^\s*(`{3,}|~{3,})\s*([^\s`]*)(.*)$")
PYTHON_LOOKING = re.compile(r"^\{?\.?(py|python\d?|pycon|python-repl|ipython\d?)$", re.IGNORECASE)


def fences(text: str) -> list[tuple[int, str, str]]:
    """Opening fences of a Markdown text: (line number, language, the rest of the info string)."""
    found, inside = [], None
    for number, line in enumerate(text.splitlines(), start=1):
        match = FENCE.match(line)
        if not match:
            continue
        if inside is None:
            inside = match.group(1)
            found.append((number, match.group(2), match.group(3).strip()))
        elif match.group(1).startswith(inside) and not match.group(2):
            inside = None
    return found


def escaping_python_fences(text: str) -> list[str]:
    """Fences that look like Python but that the example runner would not collect."""
    problems = []
    for number, language, rest in fences(text):
        if language == "python" and rest:
            problems.append(f"line {number}: ```python {rest}")
        elif language != "python" and PYTHON_LOOKING.match(language):
            problems.append(f"line {number}: ```{language}{(' ' + rest) if rest else ''}")
    return problems


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("```python\nx = 1\n```\n", []),
        ("```py\nx = 1\n```\n", ["line 1: ```py"]),
        ('    ```python title="a.py"\n    x = 1\n    ```\n', ['line 1: ```python title="a.py"']),
        ("```pycon\n>>> 1\n```\n", ["line 1: ```pycon"]),
        ("````markdown\n```py\n```\n````\n", []),
        ("```shell\nuv run pytest\n```\n", []),
    ],
)
def test_the_fence_check_finds_python_that_would_not_run(text: str, expected: list[str]) -> None:
    assert escaping_python_fences(text) == expected


def test_no_python_example_escapes_the_example_runner() -> None:
    problems = {
        str(page.relative_to(paths.DOCS)): escaping_python_fences(page.read_text(encoding="utf-8"))
        for page in paths.DOCS.rglob("*.md")
    }
    assert {page: found for page, found in problems.items() if found} == {}, (
        "label Python examples exactly ```python so that the test suite runs them"
    )


def test_no_docs_page_holds_a_shell_block_that_the_runner_would_execute() -> None:
    executed = {
        str(page.relative_to(paths.DOCS)): [
            n for n, language, _ in fences(page.read_text()) if language in ("sh", "bash")
        ]
        for page in paths.DOCS.rglob("*.md")
    }
    assert {page: lines for page, lines in executed.items() if lines} == {}, "use ```shell for commands to show"


def test_every_rule_of_the_standard_is_in_the_registry() -> None:
    registry = " ".join(site._plain(rule.text) for rule in load_rules().values())
    body = paths.STANDARD.read_text(encoding="utf-8").split("# Backend Rules", 1)[1]
    bullets = [site._plain(m.group(1)) for m in re.finditer(r"^\s*- (.+)$", body, flags=re.MULTILINE)]
    headings = {"algorithm complexity:", "database:"}
    missing = [bullet for bullet in bullets if bullet not in headings and bullet.rstrip(":") not in registry]
    assert missing == [], "rules of the standard that rules.toml does not cover"


def test_the_standard_page_links_every_rule() -> None:
    page = site.standard_page()
    for rule in load_rules().values():
        assert f"[{rule.id}](rules/{rule.id.lower()}.md)" in page


@pytest.mark.parametrize("rule", load_rules().values(), ids=lambda rule: rule.id)
def test_every_rule_has_a_page_with_the_required_sections(rule: object) -> None:
    page = paths.DOCS / rule.source  # type: ignore[attr-defined]
    assert page.is_file(), f"docs/{rule.source} is missing"  # type: ignore[attr-defined]
    headings = re.findall(r"^## (.+)$", page.read_text(encoding="utf-8"), flags=re.MULTILINE)
    assert headings == list(site.RULE_SECTIONS)
    text = page.read_text(encoding="utf-8")
    assert '=== "Bad"' in text
    assert '=== "Good"' in text
    assert "TODO" not in text


def nav_pages(entries: list[object]) -> set[str]:
    found: set[str] = set()
    for entry in entries:
        if isinstance(entry, str):
            found.add(entry)
        elif isinstance(entry, dict):
            for value in entry.values():
                found |= nav_pages(value) if isinstance(value, list) else {value}
    return found


def test_the_site_builds_strictly_and_every_page_is_in_the_navigation(built_site: Path) -> None:
    from mkdocs.config import load_config

    from dojo import docs_hooks

    config = docs_hooks.on_config(load_config(str(paths.REPO / "mkdocs.yml")))
    in_nav = nav_pages(config.nav)
    on_disk = {str(p.relative_to(paths.DOCS)) for p in paths.DOCS.rglob("*.md")}
    generated = set(docs_hooks.GENERATED) | {f"katas/{kata.slug}.md" for kata in load_katas()}
    assert (on_disk | generated) - in_nav == set()
    assert (built_site / "index.html").is_file()
    assert yaml is not None


def test_kata_pages_show_hints_and_the_solution_behind_a_spoiler(built_site: Path) -> None:
    html = (built_site / "katas" / "n_plus_one" / "index.html").read_text(encoding="utf-8")
    assert html.count("<details") >= 4  # two or more hints, the diff, the file
    assert "prefetch_related" in html  # the solution, rendered from solutions/
    assert "uv run pytest katas/n_plus_one" in html


def test_rule_pages_quote_the_standard_and_list_their_katas(built_site: Path) -> None:
    html = (built_site / "rules" / "perf-2" / "index.html").read_text(encoding="utf-8")
    assert "PERF-2 · Avoid N+1 queries" in html
    assert "by default in services" in html  # the standard's words, in the quote box
    assert "../../katas/n_plus_one/" in html


def test_the_site_fetches_nothing_from_the_internet(built_site: Path) -> None:
    external = re.compile(r"""<(?:script|link|img)[^>]+(?:src|href)=["'](https?:)?//""", re.IGNORECASE)
    offenders = {
        str(page.relative_to(built_site)): external.findall(page.read_text(encoding="utf-8"))
        for page in built_site.rglob("*.html")
    }
    assert {page: found for page, found in offenders.items() if found} == {}
    assert (built_site / "assets" / "vendor" / "mermaid" / "mermaid.min.js").is_file()


@pytest.mark.parametrize("agenda", site.AGENDAS, ids=lambda agenda: agenda.name)
def test_workshop_agendas_fit_their_time_and_follow_the_training_order(agenda: site.Agenda) -> None:
    blocks = site.plan(agenda)
    assert sum(minutes for _title, minutes in blocks) <= agenda.minutes
    planned = [kata.slug for kata in load_katas() if any(f"katas/{kata.slug}.md" in title for title, _ in blocks)]
    assert planned, "an agenda without a kata"
    order = [kata.slug for kata in load_katas()]
    assert planned == sorted(planned, key=order.index)


def test_the_coverage_matrix_has_a_row_per_rule_and_a_column_per_kata() -> None:
    matrix = site.coverage_matrix()
    rows = [line for line in matrix.splitlines() if line.startswith("| [")]
    assert len(rows) == len(load_rules())
    assert all(row.count("|") == len(load_katas()) + 2 for row in rows)
    for kata in load_katas():
        for rule_id in kata.rules:
            row = next(r for r in rows if r.startswith(f"| [{rule_id}]"))
            column = [k.slug for k in load_katas()].index(kata.slug) + 2
            assert row.split("|")[column].strip() == "✓"


def test_facilitator_notes_show_each_wrong_fix_as_a_diff(built_site: Path) -> None:
    html = (built_site / "workshops" / "katas" / "index.html").read_text(encoding="utf-8")
    decoys = sum(len(kata.decoys) for kata in load_katas())
    assert html.count("The wrong fix, against the reference solution") == decoys
    assert "prefetch_related" in html  # the n_plus_one decoy that drops the prefetch
