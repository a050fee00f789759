"""Pages of the site that are generated from the manifest, the rule registry and the kata trees.

Nothing here is typed twice: a kata's page is built from `katas.toml`, its folder's README and the
diff between its starter and its solution; the rules index and the standard page from `rules.toml`
and the standard itself.
"""

import difflib
import re
from collections.abc import Iterable
from pathlib import Path

from dojo import paths
from dojo.manifest import Kata, load_katas
from dojo.rules import Rule, load_rules

RULE_SECTIONS = (
    "What it asks",
    "Why",
    "Bad and good",
    "Exceptions and judgment calls",
    "How it is checked",
    "References",
)
KATAS_SECTION = "Katas that train it"


def _indent(text: str, spaces: int = 4) -> str:
    pad = " " * spaces
    return "\n".join(pad + line if line.strip() else "" for line in text.splitlines())


def _fence(code: str, language: str, title: str | None = None) -> str:
    info = f'{language} title="{title}"' if title else language
    return f"```{info}\n{code.rstrip()}\n```"


def readme_body(kata: Kata) -> str:
    """The kata's instructions from its folder, without the title line (the page has its own)."""
    text = (kata.starter_dir / "README.md").read_text(encoding="utf-8")
    return re.sub(r"\A# .*\n+", "", text)


def readme_title(kata: Kata) -> str:
    first = (kata.starter_dir / "README.md").read_text(encoding="utf-8").splitlines()[0]
    return first.removeprefix("# ").strip()


def lesson_diff(kata: Kata) -> str:
    """The lesson as a unified diff from the starter to the reference solution."""
    chunks: list[str] = []
    for name in sorted(_kata_files(kata)):
        before = (kata.starter_dir / name).read_text(encoding="utf-8").splitlines(keepends=True)
        after = (kata.solution_dir / name).read_text(encoding="utf-8").splitlines(keepends=True)
        chunks.extend(difflib.unified_diff(before, after, f"katas/{kata.slug}/{name}", f"solutions/{kata.slug}/{name}"))
    return "".join(chunks)


def _kata_files(kata: Kata) -> Iterable[str]:
    for path in kata.starter_dir.rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts:
            yield str(path.relative_to(kata.starter_dir))


def rule_link(rule: Rule, from_dir: str) -> str:
    """A Markdown link to a rule's page, relative to a page in `from_dir` (e.g. "katas")."""
    prefix = "../" * len(Path(from_dir).parts) if from_dir else ""
    return f"[{rule.id} · {rule.title}]({prefix}{rule.source})"


def kata_page(kata: Kata) -> str:
    """The whole page of a kata."""
    rules = load_rules()
    rule_links = ", ".join(rule_link(rules[rule_id], "katas") for rule_id in kata.rules)
    files = ", ".join(f"`{name}`" for name in kata.files)
    parts = [
        f"# {kata.title}",
        f"**Trains** {rule_links} · **{kata.difficulty}** · about **{kata.minutes} minutes** · "
        f"**edit** {files} in `katas/{kata.slug}/`",
        f'<div class="dojo-status" data-kata="{kata.slug}"></div>',
        readme_body(kata).strip(),
        "## Grade it",
        _fence(f"uv run pytest katas/{kata.slug}", "shell"),
        "A failing check says what is wrong and which rule it breaks; the others keep passing as long "
        "as the code still does what it did.",
        "## Hints",
        "Open one at a time: each says a little more than the one before.",
    ]
    for number, hint in enumerate(kata.hints, start=1):
        parts.append(f'??? tip "Hint {number}"\n{_indent(hint)}')
    parts += [
        "## Reference solution",
        "Try the kata first: the solution teaches most once you have met the problem.",
        '??? success "Spoiler: the lesson as a diff"\n' + _indent(_fence(lesson_diff(kata), "diff")),
    ]
    for name in kata.files:
        code = (kata.solution_dir / name).read_text(encoding="utf-8")
        parts.append(
            f'??? success "Spoiler: `{name}` in full"\n'
            + _indent(_fence(code, "python", f"solutions/{kata.slug}/{name}"))
        )
    parts += ["## Wrong fixes the grader rejects"]
    parts += [f"- **{name.replace('_', ' ')}**: {why}" for name, why in kata.decoys.items()]
    if kata.discussion:
        parts += ["## For a workshop debrief"]
        parts += [f"{number}. {question}" for number, question in enumerate(kata.discussion, start=1)]
    return "\n\n".join(parts) + "\n"


def katas_index() -> str:
    rules = load_rules()
    lines = [
        "# Katas",
        "Each kata is a small scene from our billing backend with one defect that breaks the standard. "
        "Take them in this order; `uv run pytest katas/<slug>` grades one.",
        "",
        "| # | Kata | Trains | Level | Minutes |",
        "|---|------|--------|-------|---------|",
    ]
    for number, kata in enumerate(load_katas(), start=1):
        trained = ", ".join(f"[{r}](../{rules[r].source})" for r in kata.rules)
        lines.append(f"| {number} | [{kata.title}]({kata.slug}.md) | {trained} | {kata.difficulty} | {kata.minutes} |")
    return "\n".join(lines) + "\n"


def katas_for_rule(rule_id: str) -> list[Kata]:
    return [kata for kata in load_katas() if rule_id in kata.rules]


def rule_page_header(rule: Rule) -> str:
    return f'# {rule.id} · {rule.title}\n\n!!! quote "The standard, section *{rule.section}*"\n{_indent(rule.text)}\n\n'


def rule_page_footer(rule: Rule) -> str:
    katas = katas_for_rule(rule.id)
    lines = [f"\n\n## {KATAS_SECTION}\n"]
    if katas:
        lines += [f"- [{kata.title}](../katas/{kata.slug}.md) (`{kata.slug}`)" for kata in katas]
    else:
        lines.append("No kata trains this rule; *How it is checked* above says how it is kept.")
    return "\n".join(lines) + "\n"


def rules_index() -> str:
    lines = ["# Rules", 'Every rule of the standard, with a stable ID to quote in review comments ("see PERF-2").']
    section = None
    for rule in load_rules().values():
        if rule.section != section:
            section = rule.section
            lines += ["", f"## {section}", "", "| ID | Rule | Katas |", "|----|------|-------|"]
        katas = ", ".join(f"[`{k.slug}`](../katas/{k.slug}.md)" for k in katas_for_rule(rule.id)) or "—"
        lines.append(f"| [{rule.id}]({rule.id.lower()}.md) | {rule.title} | {katas} |")
    return "\n".join(lines) + "\n"


def _plain(text: str) -> str:
    return re.sub(r"[*`\"]", "", text).strip().lower()


def standard_page() -> str:
    """The standard as written, each rule followed by a link to its page."""
    text = paths.STANDARD.read_text(encoding="utf-8")
    text = re.sub(r"\A---\n.*?\n---\n", "", text, flags=re.DOTALL)
    unlinked = list(load_rules().values())
    lines = []
    for line in text.splitlines():
        bullet = re.match(r"^(\s*)- (.*)$", line)
        if bullet:
            content = _plain(bullet.group(2))
            match = next((rule for rule in unlinked if content and _plain(rule.text).startswith(content)), None)
            if match is not None:
                unlinked.remove(match)
                line = f"{line} — [{match.id}](rules/{match.id.lower()}.md)"
        lines.append(line)
    intro = "The standard exactly as the team wrote it (`standard/backend-rules.md`); each rule links to its page.\n\n"
    body = "\n".join(lines).replace("# Backend Rules", "# The standard\n\n" + intro, 1)
    return body + "\n"
