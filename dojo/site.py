"""Pages of the site that are generated from the manifest, the rule registry and the kata trees.

Nothing here is typed twice: a kata's page is built from `katas.toml`, its folder's README and the
diff between its starter and its solution; the rules index and the standard page from `rules.toml`
and the standard itself.
"""

import difflib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
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
        _fence(
            f"uv run dojo watch {kata.slug}     # grades again on every save; Ctrl-C to stop\n"
            f"uv run pytest katas/{kata.slug}   # the same graders, once",
            "shell",
        ),
        "A failing check says what is wrong and which rule it breaks; the others keep passing as long "
        "as the code still does what it did. [The dojo command](../dojo-cli.md) has more: hints, reset, "
        "the solution once you pass.",
        "## Hints",
        f"Open one at a time: each says a little more than the one before (`uv run dojo hint {kata.slug}` "
        "shows them one by one in your terminal, and remembers).",
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


def section_slug(section: str) -> str:
    """`"API (Django Ninja)"` → `"api-django-ninja"`: the folder of a section's index page."""
    return re.sub(r"[^a-z0-9]+", "-", section.lower()).strip("-")


def section_page(section: str) -> str:
    rules = [rule for rule in load_rules().values() if rule.section == section]
    lines = [f"# {section}", f"The rules of the standard's *{section}* section.", ""]
    for rule in rules:
        katas = katas_for_rule(rule.id)
        trained = ", ".join(f"[`{k.slug}`](../../katas/{k.slug}.md)" for k in katas) or "no kata"
        lines.append(f"- [**{rule.id}** · {rule.title}](../../{rule.source}): {rule.text} *Trained by:* {trained}.")
    return "\n".join(lines) + "\n"


def section_pages() -> dict[str, Callable[[], str]]:
    """One index page per section of the standard, by folder name."""
    sections = dict.fromkeys(rule.section for rule in load_rules().values())
    return {section_slug(section): partial(section_page, section) for section in sections}


def coverage_matrix() -> str:
    """Rules × katas: which kata trains which rule, and how the untrained rules are kept."""
    katas = load_katas()
    header = "| Rule | " + " | ".join(f"[{n}](../katas/{k.slug}.md)" for n, k in enumerate(katas, 1)) + " |"
    lines = [
        "# Coverage: rules × katas",
        "Which kata trains which rule, generated from the kata manifest. Columns are the katas in "
        "training order; a rule with no kata is kept by the checks its page describes under "
        "*How it is checked*.",
        "",
        header,
        "|---|" + "---|" * len(katas),
    ]
    for rule in load_rules().values():
        marks = " | ".join("✓" if rule.id in kata.rules else "" for kata in katas)
        lines.append(f"| [{rule.id}](../{rule.source}) | {marks} |")
    lines += ["", "**Katas:** " + " · ".join(f"{n}. `{k.slug}`" for n, k in enumerate(katas, 1))]
    untrained = [rule for rule in load_rules().values() if not katas_for_rule(rule.id)]
    if untrained:
        lines += ["", "**Kept by tooling and review rather than a kata:** "]
        lines += [f"- [{rule.id} · {rule.title}](../{rule.source})" for rule in untrained]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Agenda:
    """A workshop format: the time it has, and the fixed blocks around the katas."""

    name: str
    minutes: int
    opening: int
    debrief: int
    closing: int
    breaks: tuple[tuple[int, str], ...] = ()  # (after this many minutes of katas, "Break, 15 min")
    levels: tuple[str, ...] = ("beginner", "intermediate", "advanced")


AGENDAS = (
    Agenda("90 minutes", 90, opening=10, debrief=5, closing=5, levels=("beginner", "intermediate")),
    Agenda("Half day (3½ hours)", 210, opening=15, debrief=10, closing=10, breaks=((90, "Break"),)),
    Agenda(
        "Full day (6 hours of training, lunch and breaks excluded)",
        360,
        opening=20,
        debrief=10,
        closing=15,
        breaks=((90, "Break"), (180, "Lunch"), (270, "Break")),
    ),
)


def plan(agenda: Agenda) -> list[tuple[str, int]]:
    """Blocks of the agenda: katas in manifest order while they fit, each followed by its debrief."""
    budget = agenda.minutes - agenda.opening - agenda.closing
    blocks: list[tuple[str, int]] = [
        ("Welcome, goals, set-up check (everyone runs `uv run pytest katas`)", agenda.opening)
    ]
    spent = 0
    pending_breaks = list(agenda.breaks)
    for kata in load_katas():
        cost = kata.minutes + agenda.debrief
        if kata.difficulty not in agenda.levels or spent + cost > budget:
            continue
        while pending_breaks and spent >= pending_breaks[0][0]:
            blocks.append((pending_breaks.pop(0)[1], 0))
        rules = ", ".join(kata.rules)
        blocks.append((f"Kata [{kata.title}](../katas/{kata.slug}.md) ({rules})", kata.minutes))
        blocks.append((f"Debrief `{kata.slug}`: wrong fixes seen, discussion prompts", agenda.debrief))
        spent += cost
    blocks.append(("Wrap-up: what changes in our reviews tomorrow; `uv run dojo progress --json`", agenda.closing))
    return blocks


def workshop_agendas() -> str:
    lines = [
        "# Agendas",
        "Three formats, built from the kata manifest (minutes, level, order): katas are taken in "
        "training order while they fit, each followed by a debrief. Breaks are not counted in the time.",
    ]
    for agenda in AGENDAS:
        lines += ["", f"## {agenda.name}", "", "| Time | Block | Minutes |", "|---|---|---|"]
        clock = 0
        for title, minutes in plan(agenda):
            if minutes == 0:
                lines.append(f"| | *{title}* | |")
                continue
            lines.append(f"| {clock // 60}:{clock % 60:02d} | {title} | {minutes} |")
            clock += minutes
        lines.append(f"| {clock // 60}:{clock % 60:02d} | *End* | |")
    return "\n".join(lines) + "\n"


def workshop_kata_notes() -> str:
    rules = load_rules()
    lines = [
        "# Kata notes for facilitators",
        "For each kata: what it trains, the wrong fixes its grader rejects (expect to see them in the "
        "room: they are the best debrief material) and questions for the debrief.",
    ]
    for number, kata in enumerate(load_katas(), start=1):
        trained = ", ".join(rule_link(rules[r], "workshops") for r in kata.rules)
        lines += [
            "",
            f"## {number}. {kata.title}",
            f"`{kata.slug}` · {kata.difficulty} · {kata.minutes} min · trains {trained}",
            "",
            "**Wrong fixes to watch for**",
            "",
        ]
        for name, why in kata.decoys.items():
            lines.append(f"- *{name.replace('_', ' ')}*: {why}")
            diff = kata.decoy_path(name)
            if diff.is_file():
                code = _indent(_fence(diff.read_text(encoding="utf-8"), "diff"), 8)
                lines.append(f'\n    ??? note "The wrong fix, against the reference solution"\n{code}\n')
        if kata.discussion:
            lines += ["", "**Discussion prompts**", ""]
            lines += [f"{n}. {question}" for n, question in enumerate(kata.discussion, start=1)]
    return "\n".join(lines) + "\n"
