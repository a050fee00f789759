"""Pages of the site that are generated from the manifest, the rule registry and the kata trees.

Nothing here is typed twice: a kata's page is built from `katas.toml`, the kata's README and the lesson
diff, both as shipped (`dojo.trees`); the rules index, the coverage and the standard page from
`rules.toml` and the standard itself; a rule's page frames its hand-written body (`docs/rules/<id>.md`)
with its title, the standard's words and the katas that train it.

Every page is named by its source path under `docs/` (`"katas/n_plus_one.md"`), and every link between
pages is made by `link()`, from one source path to another.
"""

import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from dojo import paths, trees
from dojo.audit import registry as audit_registry
from dojo.browser import bundle as browser_bundle
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
AUDIT_SECTION = "In your codebase"
HOW_CHECKED = "how-it-is-checked"  # the anchor of the section that says how an untrained rule is kept

STANDARD = "standard.md"
RULES_INDEX = "rules/index.md"
COVERAGE = "rules/coverage.md"
KATAS_INDEX = "katas/index.md"
AGENDAS_PAGE = "workshops/agendas.md"
KATA_NOTES = "workshops/katas.md"
CLI_PAGE = "dojo-cli.md"


def link(text: str, target: str, *, page: str) -> str:
    """A Markdown link from the page whose source is `page` to the source `target` (both under `docs/`).

    `target` may carry an anchor: `link("how", "rules/perf-2.md#why", page="katas/index.md")`.
    """
    path, hash_sign, anchor = target.partition("#")
    relative = posixpath.relpath(path, posixpath.dirname(page) or ".")
    return f"[{text}]({relative}{hash_sign}{anchor})"


def kata_source(kata: Kata) -> str:
    return f"katas/{kata.slug}.md"


def section_slug(section: str) -> str:
    """`"API (Django Ninja)"` → `"api-django-ninja"`: the folder of a section's index page."""
    return re.sub(r"[^a-z0-9]+", "-", section.lower()).strip("-")


def section_source(section: str) -> str:
    return f"rules/{section_slug(section)}/index.md"


def decoy_diff(kata: Kata, decoy: str) -> Path:
    """Where a kata's decoy is kept, as a unified diff against the solution."""
    return kata.decoy_path(decoy)


def _indent(text: str, spaces: int = 4) -> str:
    pad = " " * spaces
    return "\n".join(pad + line if line.strip() else "" for line in text.splitlines())


def _fence(code: str, language: str, title: str | None = None) -> str:
    info = f'{language} title="{title}"' if title else language
    return f"```{info}\n{code.rstrip()}\n```"


def _readme(kata: Kata) -> str:
    shipped = trees.shipped_files(kata.slug).get("README.md")
    return shipped.decode("utf-8") if shipped is not None else f"# {kata.title}\n"


#: the README's link to the standard, from katas/<slug>/, and the same page on the site, from katas/<slug>.md
STANDARD_IN_REPO = "](../../standard/backend-rules.md)"
STANDARD_ON_SITE = "](../standard.md)"


def readme_body(kata: Kata) -> str:
    """The kata's instructions as shipped, without the title line (the page has its own)."""
    return re.sub(r"\A# .*\n+", "", _readme(kata)).replace(STANDARD_IN_REPO, STANDARD_ON_SITE)


def readme_title(kata: Kata) -> str:
    return _readme(kata).splitlines()[0].removeprefix("# ").strip()


def katas_for_rule(rule_id: str) -> list[Kata]:
    return [kata for kata in load_katas() if rule_id in kata.rules]


def _kata_facts(kata: Kata) -> str:
    """The slug, the level and the time: what a learner needs to pick a kata and type its command."""
    return f"`{kata.slug}` · {kata.difficulty} · about {kata.minutes} minutes"


def try_it_here(kata: Kata) -> list[str]:
    """The in-browser runner's panel (`dojo-try.js`), or why this kata grades on the command line only."""
    why = browser_bundle.why_not(kata)
    if why is not None:
        return [
            "## Try it here",
            f'!!! note "On the command line only"\n    This kata does not run in the browser: {why}. '
            f"Grade it with `uv run pytest katas/{kata.slug}`.",
        ]
    skipped = browser_bundle.not_in_browser(kata)
    if skipped:
        checks = "; ".join(f"`{name}`, because {why}" for name, why in skipped.items())
        database = " on PostgreSQL" if browser_bundle.NEEDS_POSTGRESQL in skipped.values() else ""
        scope = (
            f"Every check runs in the browser but these: {checks}. So the browser can show this kata "
            f"incomplete, never solved: solve it with `uv run pytest katas/{kata.slug}`{database}."
        )
    else:
        scope = "Every check of this kata runs in the browser."
    uses_clock = any("import time_machine" in path.read_text(encoding="utf-8") for path in kata.grader_dir.glob("*.py"))
    if uses_clock:
        scope += (
            " The checks that move the clock use, in the browser, the dojo's pure-Python stand-in for "
            "time-machine (which is compiled)."
        )
    return [
        "## Try it here",
        "Edit the starter below and press **Check**: the same grader runs in your browser, on Python compiled "
        "to WebAssembly (Pyodide, Python 3.14 against our 3.12), with SQLite, and nothing leaves your machine. "
        f"{scope} Your code stays in this browser, for this kata: **Reset to starter** keeps your version one "
        "undo away, and **Export as zip** gives the kata folder (`katas/"
        f"{kata.slug}/`) to unzip in your clone, where `uv run dojo` goes on from it. The page needs a web "
        "server (`uv run mkdocs serve` or any static server), not `file://`.",
        f'<div class="dojo-try" data-kata="{kata.slug}">\n'
        '<div class="dojo-try__body"><p>Loading the in-browser runner…</p></div>\n'
        '<div class="dojo-try__unavailable" hidden><p>The in-browser runner is unavailable on this copy of the '
        'site: <span class="dojo-try__unavailable-reason"></span>. '
        f"Grade on the command line: <code>uv run pytest katas/{kata.slug}</code>.</p></div>\n"
        "</div>",
    ]


def kata_page(kata: Kata) -> str:
    """The whole page of a kata."""
    page = kata_source(kata)
    rules = load_rules()
    rule_links = ", ".join(link(f"{r} · {rules[r].title}", rules[r].source, page=page) for r in kata.rules)
    files = ", ".join(f"`{name}`" for name in kata.files)
    parts = [
        f"# {kata.title}",
        f"{_kata_facts(kata)} · **trains** {rule_links} · **edit** {files} in `katas/{kata.slug}/`",
        f'<div class="dojo-status" data-kata="{kata.slug}"></div>',
        readme_body(kata).strip(),
        "## Grade it",
        f"Kata {_kata_facts(kata)}:",
        _fence(
            f"uv run dojo watch {kata.slug}     # grades again on every save; Ctrl-C to stop\n"
            f"uv run pytest katas/{kata.slug}   # the same graders, once",
            "shell",
        ),
        "A failing check says what is wrong and which rule it breaks; the others keep passing as long "
        f"as the code still does what it did. {link('The dojo command', CLI_PAGE, page=page)} has more: "
        "hints, reset, the solution once you pass.",
        *try_it_here(kata),
        "## Hints",
        f"Open one at a time: each says a little more than the one before (`uv run dojo hint {kata.slug}` "
        "shows them one by one in your terminal, and remembers).",
    ]
    for number, hint in enumerate(kata.hints, start=1):
        parts.append(f'??? tip "Hint {number}"\n{_indent(hint)}')
    parts += [
        "## Reference solution",
        "Try the kata first: the solution teaches most once you have met the problem.",
        '??? success "Spoiler: the lesson as a diff"\n' + _indent(_fence(trees.lesson_diff(kata.slug), "diff")),
    ]
    for name in kata.files:
        code = (kata.solution_dir / name).read_text(encoding="utf-8")
        parts.append(
            f'??? success "Spoiler: `{name}` in full"\n'
            + _indent(_fence(code, "python", f"solutions/{kata.slug}/{name}"))
        )
    parts += ["## Wrong fixes the grader rejects"]
    parts += [f"- **{name.replace('_', ' ')}**: {why}{_on_postgresql(kata, name)}" for name, why in kata.decoys.items()]
    if kata.discussion:
        parts += ["## For a workshop debrief"]
        parts += [f"{number}. {question}" for number, question in enumerate(kata.discussion, start=1)]
    return "\n\n".join(parts) + "\n"


def _on_postgresql(kata: Kata, decoy: str) -> str:
    """What a decoy's line adds when the grader rejects it on PostgreSQL (or SQLite) only."""
    if decoy in kata.sqlite_decoys:
        return " (rejected on SQLite: on PostgreSQL this wrong fix does no harm)"
    return " (rejected on PostgreSQL: on SQLite this wrong fix does no harm)" if decoy in kata.postgresql_decoys else ""


def katas_index() -> str:
    rules = load_rules()
    lines = [
        "---\nhide:\n  - toc\n---\n",
        "# Katas",
        "Each kata is a small scene from our billing backend with one defect that breaks the standard. "
        "Take them in this order; every command takes the kata's slug: `uv run dojo watch <slug>` grades "
        "one on every save, `uv run pytest katas/<slug>` once.",
        "",
        '<div class="dojo-katas" markdown>',
        "",
        "| # | Kata | Slug | Level | Minutes | Trains |",
        "|--:|------|------|-------|--------:|--------|",
    ]
    for number, kata in enumerate(load_katas(), start=1):
        trained = ", ".join(link(r, rules[r].source, page=KATAS_INDEX) for r in kata.rules)
        title = link(kata.title, kata_source(kata), page=KATAS_INDEX)
        lines.append(f"| {number} | {title} | `{kata.slug}` | {kata.difficulty} | {kata.minutes} | {trained} |")
    lines += ["", "</div>"]
    return "\n".join(lines) + "\n"


def rule_page(rule: Rule, body: str) -> str:
    """A rule's page: its title and the standard's words, the hand-written body, the katas that train it."""
    katas = katas_for_rule(rule.id)
    if katas:
        trained = [f"- {link(kata.title, kata_source(kata), page=rule.source)} ({_kata_facts(kata)})" for kata in katas]
    else:
        trained = ["No kata trains this rule; *How it is checked* above says how it is kept."]
    return (
        "\n".join(
            [
                f"# {rule.id} · {rule.title}",
                "",
                f'!!! quote "The standard, section *{rule.section}*"',
                _indent(rule.text),
                "",
                body.strip(),
                "",
                f"## {KATAS_SECTION}",
                "",
                *trained,
                "",
                f"## {AUDIT_SECTION}",
                "",
                f"`uv run dojo audit PATH` checks a codebase against this rule "
                f"({link('Audit your codebase', 'audit.md', page=rule.source)}):",
                "",
                audit_registry.how_it_is_checked(rule.id),
            ]
        )
        + "\n"
    )


def _rules_by_section() -> dict[str, list[Rule]]:
    sections: dict[str, list[Rule]] = {}
    for rule in load_rules().values():
        sections.setdefault(rule.section, []).append(rule)
    return sections


def _slug_links(katas: list[Kata], page: str) -> str:
    return ", ".join(link(f"`{kata.slug}`", kata_source(kata), page=page) for kata in katas)


def rules_index() -> str:
    lines = [
        "# Rules",
        'Every rule of the standard, with a stable ID to quote in review comments ("see PERF-2"). '
        f"{link('The coverage', COVERAGE, page=RULES_INDEX)} shows which kata trains which rule.",
    ]
    for section, rules in _rules_by_section().items():
        lines += ["", f"## {section}", "", "| ID | Rule | Katas |", "|----|------|-------|"]
        for rule in rules:
            katas = _slug_links(katas_for_rule(rule.id), RULES_INDEX) or "—"
            lines.append(f"| {link(rule.id, rule.source, page=RULES_INDEX)} | {rule.title} | {katas} |")
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
                line = f"{line} — {link(match.id, match.source, page=STANDARD)}"
        lines.append(line)
    intro = "The standard exactly as the team wrote it (`standard/backend-rules.md`); each rule links to its page.\n\n"
    body = "\n".join(lines).replace("# Backend Rules", "# The standard\n\n" + intro, 1)
    return body + "\n"


def section_page(section: str) -> str:
    page = section_source(section)
    lines = [f"# {section}", f"The rules of the standard's *{section}* section.", ""]
    for rule in _rules_by_section()[section]:
        trained = _slug_links(katas_for_rule(rule.id), page) or "no kata"
        lines.append(
            f"- {link(f'**{rule.id}** · {rule.title}', rule.source, page=page)}: {rule.text} *Trained by:* {trained}."
        )
    return "\n".join(lines) + "\n"


def coverage_page() -> str:
    """Rule → the katas that train it, section by section, with the rules that tooling and review keep."""
    rules = load_rules()
    trained = [rule for rule in rules.values() if katas_for_rule(rule.id)]
    lines = [
        "# Coverage",
        "Which kata trains which rule, generated from the kata manifest, section by section. "
        f"**{len(trained)} of {len(rules)} rules** are trained by a kata; the others are marked "
        ":material-wrench: **kept by tooling and review**: their page says how, under *How it is checked*.",
    ]
    for section, members in _rules_by_section().items():
        kept = sum(1 for rule in members if not katas_for_rule(rule.id))
        summary = f"{len(members) - kept} of {len(members)} rules trained by a kata"
        lines += ["", f"## {section}", "", summary + ".", "", '<div class="dojo-coverage" markdown>', ""]
        lines += ["| Rule | Katas that train it |", "|------|------|"]
        for rule in members:
            katas = katas_for_rule(rule.id)
            if katas:
                cell = "<br>".join(
                    f"{link(kata.title, kata_source(kata), page=COVERAGE)} `{kata.slug}`" for kata in katas
                )
            else:
                cell = ":material-wrench: " + link(
                    "Kept by tooling and review", f"{rule.source}#{HOW_CHECKED}", page=COVERAGE
                )
            lines.append(f"| {link(f'**{rule.id}** · {rule.title}', rule.source, page=COVERAGE)} | {cell} |")
        lines += ["", "</div>"]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Agenda:
    """A workshop format: its training time (breaks excluded), the fixed blocks, the breaks, the start."""

    name: str
    minutes: int
    opening: int
    debrief: int
    closing: int
    breaks: tuple[tuple[int, str, int], ...] = ()  # (after this many minutes of training, "Lunch", 60)
    levels: tuple[str, ...] = ("beginner", "intermediate", "advanced")
    start: str = "09:30"


AGENDAS = (
    Agenda("90 minutes", 90, opening=10, debrief=5, closing=5, levels=("beginner", "intermediate"), start="14:00"),
    Agenda("Half day (3½ hours of training)", 210, opening=15, debrief=10, closing=10, breaks=((105, "Break", 15),)),
    Agenda(
        "Full day (6 hours of training)",
        360,
        opening=20,
        debrief=10,
        closing=15,
        breaks=((90, "Break", 15), (180, "Lunch", 60), (270, "Break", 15)),
    ),
)


@dataclass(frozen=True)
class Block:
    """One line of an agenda: what happens, for how long, and whether it is a break."""

    title: str
    minutes: int
    rest: bool = False


def plan(agenda: Agenda) -> list[Block]:
    """Blocks of the agenda: katas in manifest order while they fit, each followed by its debrief, and the
    breaks, each at the first block boundary once its training time has passed."""
    budget = agenda.minutes - agenda.opening - agenda.closing
    blocks = [Block("Welcome, goals, set-up check (everyone runs `uv run pytest katas`)", agenda.opening)]
    spent = 0
    pending = list(agenda.breaks)
    for kata in load_katas():
        cost = kata.minutes + agenda.debrief
        if kata.difficulty not in agenda.levels or spent + cost > budget:
            continue
        while pending and agenda.opening + spent >= pending[0][0]:
            _after, title, minutes = pending.pop(0)
            blocks.append(Block(title, minutes, rest=True))
        rules = ", ".join(kata.rules)
        blocks.append(
            Block(
                f"Kata {link(kata.title, kata_source(kata), page=AGENDAS_PAGE)} `{kata.slug}` ({rules})", kata.minutes
            )
        )
        blocks.append(Block(f"Debrief `{kata.slug}`: wrong fixes seen, discussion prompts", agenda.debrief))
        spent += cost
    blocks.append(Block("Wrap-up: what changes in our reviews tomorrow; `uv run dojo progress --json`", agenda.closing))
    return blocks


def clock(agenda: Agenda) -> Iterator[tuple[str, Block]]:
    """Each block with the time it starts, from the agenda's start, breaks included."""
    now = datetime.strptime(agenda.start, "%H:%M")  # noqa: DTZ007 (a time of day, in the room's time zone)
    for block in plan(agenda):
        yield now.strftime("%H:%M"), block
        now += timedelta(minutes=block.minutes)
    yield now.strftime("%H:%M"), Block("End", 0)


def workshop_agendas() -> str:
    lines = [
        "# Agendas",
        "Three formats, built from the kata manifest (minutes, level, order): katas are taken in training "
        "order while they fit, each followed by a debrief. Each format's time is training time; breaks "
        "come on top of it. Clock times are for the start shown: shift them to yours.",
    ]
    for agenda in AGENDAS:
        times = list(clock(agenda))
        lines += [
            "",
            f"## {agenda.name}",
            "",
            f"From {times[0][0]} to {times[-1][0]}" + (", breaks included." if agenda.breaks else "."),
            "",
            "| Time | Block | Minutes |",
            "|-----:|-------|--------:|",
        ]
        for at, block in times:
            if block.rest:
                lines.append(f"| {at} | :material-coffee: *{block.title}* | {block.minutes} |")
            elif block.minutes:
                lines.append(f"| {at} | {block.title} | {block.minutes} |")
            else:
                lines.append(f"| {at} | **{block.title}** | |")
    return "\n".join(lines) + "\n"


def workshop_kata_notes() -> str:
    rules = load_rules()
    lines = [
        "# Kata notes for facilitators",
        "For each kata: what it trains, the wrong fixes its grader rejects (expect to see them in the "
        "room: they are the best debrief material) and questions for the debrief.",
    ]
    for number, kata in enumerate(load_katas(), start=1):
        trained = ", ".join(link(f"{r} · {rules[r].title}", rules[r].source, page=KATA_NOTES) for r in kata.rules)
        lines += [
            "",
            f"## {number}. {kata.title}",
            f"{_kata_facts(kata)} · trains {trained} · {link('the kata', kata_source(kata), page=KATA_NOTES)}",
            "",
            "**Wrong fixes to watch for**",
            "",
        ]
        for name, why in kata.decoys.items():
            lines.append(f"- *{name.replace('_', ' ')}*: {why}{_on_postgresql(kata, name)}")
            diff = decoy_diff(kata, name)
            if diff.is_file():
                code = _indent(_fence(diff.read_text(encoding="utf-8"), "diff"), 8)
                lines.append(f'\n    ??? note "The wrong fix, against the reference solution"\n{code}\n')
        if kata.discussion:
            lines += ["", "**Discussion prompts**", ""]
            lines += [f"{n}. {question}" for n, question in enumerate(kata.discussion, start=1)]
    return "\n".join(lines) + "\n"


def generated_pages(rule_bodies: dict[str, str]) -> dict[str, str]:
    """Every generated page by source path; `rule_bodies` holds the hand-written body of each rule page."""
    pages = {
        STANDARD: standard_page(),
        RULES_INDEX: rules_index(),
        COVERAGE: coverage_page(),
        KATAS_INDEX: katas_index(),
        AGENDAS_PAGE: workshop_agendas(),
        KATA_NOTES: workshop_kata_notes(),
    }
    pages |= {section_source(section): section_page(section) for section in _rules_by_section()}
    pages |= {kata_source(kata): kata_page(kata) for kata in load_katas()}
    pages |= {rule.source: rule_page(rule, rule_bodies[rule.source]) for rule in load_rules().values()}
    return pages


def nav_sections() -> list[object]:
    """The *Rules* and *Katas* entries of the site's navigation, from the registry and the manifest.

    `dojo.sitegen` writes them into `mkdocs.yml`, between its markers: the configuration holds the
    whole navigation, and no builder has to compute any of it.
    """
    rules_nav: list[object] = [RULES_INDEX, COVERAGE]
    for section, rules in _rules_by_section().items():
        rules_nav.append({section: [section_source(section), *({f"{r.id} · {r.title}": r.source} for r in rules)]})
    katas_nav: list[object] = [KATAS_INDEX, *({kata.slug: kata_source(kata)} for kata in load_katas())]
    return [{"Rules": rules_nav}, {"Katas": katas_nav}]
