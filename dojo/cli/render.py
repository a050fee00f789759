"""What `dojo` prints: results, a kata's instructions, tables, hints and diffs. Nothing here writes state."""

from collections.abc import Sequence
from datetime import datetime

from rich.console import Console, Group
from rich.markdown import Markdown
from rich.markup import escape
from rich.panel import Panel
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from dojo import paths
from dojo.cli.core import GradingTimeoutError
from dojo.manifest import Kata
from dojo.progress import Row, failures_of
from dojo.results import KataStatus, TestResult
from dojo.rules import load_rules, rule_url
from dojo.runner import Grading, KataResult

STATUS_STYLES = {"solved": "green", "failing": "red", "incomplete": "yellow", "not started": "dim"}
STATUS_MARKS = {"solved": "✔", "failing": "✘", "incomplete": "…", "not started": "·"}
OUTPUT_LINES = 25  # of pytest's output, when a kata could not be graded
MESSAGE_LINES = 60  # of a message that may hold the learner's own output (not a lesson: those are whole)
LINE_CHARACTERS = 2000


def humanize(test: str) -> str:
    """`test_query_count_is_within_budget[3]` → `query count is within budget [3]`."""
    name, bracket, rest = test.partition("[")
    return name.removeprefix("test_").replace("_", " ") + (f" [{rest}" if bracket else "")


def title_of(failure: TestResult) -> str:
    """The check's own title when the grader gives one, else one made from the test's name."""
    return failure.title or humanize(failure.test)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'s' if count != 1 else ''}"


def clip_lines(text: str, limit: int, *, keep: str = "head", more: str = "") -> str:
    """At most `limit` lines of `text` (the first or the last ones), with a note of how many are left out.

    Very long lines are shortened too, with the same kind of note.
    """
    lines = text.splitlines()
    if len(lines) > limit:
        hidden = len(lines) - limit
        note = f"… {_plural(hidden, 'line')} more{more}"
        lines = [*lines[:limit], note] if keep == "head" else [note.replace(" more", " more above", 1), *lines[-limit:]]
    shortened = []
    for line in lines:
        if len(line) > LINE_CHARACTERS:
            line = f"{line[:LINE_CHARACTERS]} … ({_plural(len(line) - LINE_CHARACTERS, 'character')} more)"
        shortened.append(line)
    return "\n".join(shortened)


def indented(text: str) -> Text:
    return Text("\n".join("  " + line for line in text.splitlines()) or "  ")


def show_timeout(out: Console, timeout: GradingTimeoutError) -> None:
    for kata in timeout.katas:
        out.print(f"[bold red]✘ {kata.slug}[/]: it took too long.")
    out.print(Text("  " + str(timeout)[0].upper() + str(timeout)[1:]), soft_wrap=True)
    if len(timeout.katas) > 1:
        out.print("  Grade them one at a time to find which: [bold]uv run dojo check SLUG[/]")


def show_result(
    out: Console, kata: Kata, result: KataResult | None, grading: Grading, *, first_pass: bool, hints_shown: int
) -> bool:
    """A short summary of one kata's grading: the first failing lesson in the grader's words.

    True only for a pass: every check ran and passed. Any other status (one this version does not
    know, or "incomplete") is shown as not solved.
    """
    verbose = f" (uv run dojo check -v {kata.slug} shows all)"
    if result is None:
        out.print(f"[red]✘ {kata.slug}[/]: it could not be graded; pytest said:")
        output = grading.output.strip() or "(nothing)"
        out.print(Text(clip_lines(output, OUTPUT_LINES, keep="tail", more=verbose)), soft_wrap=True)
        return False
    failures = failures_of(result)
    total = len(result.tests)
    if result.status == KataStatus.SOLVED:
        out.print(f"[bold green]✔ {kata.slug}[/] passes: all {total} checks.")
        if first_pass:
            out.print(
                f"  [green]Solved![/] Compare with the reference: [bold]uv run dojo solution {kata.slug}[/] · "
                f"next kata: [bold]uv run dojo next[/]"
            )
        return True
    first = failures[0] if failures else None
    if first is not None and first.took_too_long:
        out.print(f"[bold red]✘ {kata.slug}[/]: it took too long.")
        out.print(indented(clip_lines(first.message, MESSAGE_LINES, more=verbose)))
        return False
    if result.status == KataStatus.BROKEN or (first and first.broken):
        out.print(f"[bold red]✘ {kata.slug}[/]: the code could not be loaded.")
        if first:
            out.print(indented(clip_lines(first.message, MESSAGE_LINES, more=verbose)))
        out.print(
            f"  [bold]uv run dojo check -v {kata.slug}[/] shows where; [bold]uv run dojo reset {kata.slug}[/] "
            "restores the starter (your files are backed up first).",
            soft_wrap=True,
        )
        return False
    if first is None:  # not a pass, and no failing check to show: say what the grading said
        ran = sum(t.outcome == "passed" for t in result.tests)
        why = (
            "every check that ran passes, but not every check ran"
            if result.status == KataStatus.INCOMPLETE
            else f"the grading ended as {result.status!r}"
        )
        out.print(f"[bold yellow]• {kata.slug}[/] is not solved yet: {why}; {ran} of {total} checks passed.")
        for note in getattr(result, "notes", ()):
            out.print(indented(note), soft_wrap=True)
        out.print(f"  Grade the whole kata: [bold]uv run dojo check {kata.slug}[/]")
        return False
    out.print(f"[bold red]✘ {kata.slug}[/]: {len(failures)} of {total} checks fail.")
    if first.rule:
        rule = load_rules()[first.rule]
        out.print(f"  [bold]{rule.id} · {escape(rule.title)}[/] — {escape(title_of(first))}", soft_wrap=True)
        out.print(indented(first.message), soft_wrap=True)  # a lesson is never cut
        out.print(Text(f"  Read: {rule_url(rule.id)}"), soft_wrap=True)
    else:
        out.print(f"  [bold]Behaviour check[/] — {escape(title_of(first))}", soft_wrap=True)
        out.print(indented(clip_lines(first.message, MESSAGE_LINES, more=verbose)))
        out.print(f"  This check is not the lesson: the code must still do what it did (katas/{kata.slug}/README.md).")
    others = [f"{title_of(f)} ({f.rule or 'behaviour'})" for f in failures[1:]]
    if others:
        out.print(Text(f"  Also failing: {'; '.join(others)}", style="dim"), soft_wrap=True)
    shown = min(hints_shown, len(kata.hints))
    out.print(
        f"  Stuck? [bold]uv run dojo hint {kata.slug}[/] ({shown} of {len(kata.hints)} hints shown) · "
        f"the kata's page: {paths.SITE_URL}/{kata.page}",
        soft_wrap=True,
    )
    return False


def show_missing(err: Console, kata: Kata, gone: Sequence[str]) -> None:
    """Files of the kata were deleted: say which, and offer a reset."""
    repo = paths.repo()
    folder = repo.kata(kata.slug)
    shown = repo.shown(folder)
    if not folder.is_dir():
        what = f"{shown}/ is missing" + (" (it is a file now)" if folder.is_file() and not folder.is_symlink() else "")
    else:
        verb = "are" if len(gone) > 1 else "is"
        what = f"{_plural(len(gone), 'file')} of {shown}/ {verb} missing: {', '.join(gone)}"
    err.print(
        f"[red]✘ {kata.slug}[/]: {escape(what)}.\n"
        f"  [bold]uv run dojo reset {kata.slug}[/] restores the starter (whatever is left is backed up first); "
        f"[bold]uv run dojo backups {kata.slug}[/] lists earlier backups.",
        soft_wrap=True,
    )


def status_text(row: Row) -> Text:
    return Text(f"{STATUS_MARKS[row.status]} {row.status}", style=STATUS_STYLES[row.status])


def show_kata(out: Console, kata: Kata, row: Row, katas: Sequence[Kata]) -> None:
    """A kata's instructions: what to do, the files to edit, its page, how to grade it."""
    repo = paths.repo()
    rules = load_rules()
    number = [k.slug for k in katas].index(kata.slug) + 1
    trains = ", ".join(f"{r} · {rules[r].title}" for r in kata.rules)
    readme = repo.kata(kata.slug) / "README.md"
    if not readme.is_file():
        readme = repo.solution(kata.slug) / "README.md"
    body = readme.read_text(encoding="utf-8", errors="replace").split("\n", 1)[-1].strip() if readme.is_file() else ""
    status = status_text(row)
    if row.status == "failing" and row.failures:
        status.append(f" — {', '.join(sorted({f.rule or 'behaviour' for f in row.failures}))}")
    header = Text.assemble(
        (f"Kata {number} of {len(katas)} · ", "dim"),
        (kata.title, "bold"),
        (f"  ({kata.slug})\n", "dim"),
        (f"Trains {trains} · {kata.difficulty} · about {kata.minutes} minutes\n", ""),
        "Status: ",
        status,
    )
    out.print(Panel(Group(header, Text(""), Markdown(body)), border_style="magenta", expand=False))
    folder = repo.kata(kata.slug)
    files = ", ".join(f"[link=file://{folder / n}]katas/{kata.slug}/{n}[/link]" for n in kata.files)
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    grid.add_row("Edit", files)
    grid.add_row("Read", f"{paths.SITE_URL}/{kata.page}  (serve the site with [bold]uv run mkdocs serve[/])")
    grid.add_row(
        "Grade", f"[bold]uv run dojo check {kata.slug}[/], or on every save: [bold]uv run dojo watch {kata.slug}[/]"
    )
    grid.add_row("Stuck?", f"[bold]uv run dojo hint {kata.slug}[/] ({row.hints_shown} of {len(kata.hints)} shown)")
    out.print(grid)


#: below this width the list leaves out each kata's title and level, so that every row is one line or two
WIDE = 110


def kata_table(found: Sequence[Row], current: Row | None, width: int = WIDE) -> Table:
    """The katas: whole slugs at any width (the learner types them); titles and levels when there is room."""
    wide = width >= WIDE
    table = Table(title="Backend Standards Dojo · katas", title_justify="left", expand=False)
    table.add_column("#", justify="right")
    slugs = max((len(row.slug) for row in found), default=0) + 2
    table.add_column("Kata", no_wrap=True, min_width=slugs)
    table.add_column("Status")
    table.add_column("Rules")
    if wide:
        table.add_column("Level")
    table.add_column("Min", justify="right")
    for number, row in enumerate(found, start=1):
        status = status_text(row)
        if row.missing_files:
            status = Text("✘ files missing", style="red")
        elif row.status == "failing":
            failing = sorted({f.rule or "behaviour" for f in row.failures})
            status.append(f" ({', '.join(failing)})" if failing else "")
        marker = "▶ " if current is not None and row.slug == current.slug else ""
        kata = Text.assemble((marker + row.slug, "bold"), ("\n" + row.kata.title, "dim") if wide else "")
        level = [row.kata.difficulty] if wide else []
        table.add_row(str(number), kata, status, ", ".join(row.kata.rules), *level, str(row.kata.minutes))
    return table


def progress_bar(solved: int, total: int) -> Table:
    bar = Table.grid(padding=(0, 1))
    bar.add_row("Progress", ProgressBar(total=total, completed=solved, width=30), f"{solved}/{total} solved")
    return bar


def progress_table(found: Sequence[Row], learner: str) -> Table:
    table = Table(title=f"Progress of {learner}", title_justify="left")
    for column in ("Kata", "Status", "Attempts", "Hints used", "First passed"):
        table.add_column(column)
    for row in found:
        first = local_time(row.first_passed_at)
        hints = f"{row.hints_shown} of {len(row.kata.hints)}"
        table.add_row(row.slug, status_text(row), str(row.attempts), hints, first)
    return table


def local_time(stamp: str | None) -> str:
    if not stamp:
        return "—"
    try:
        return f"{datetime.fromisoformat(stamp).astimezone():%Y-%m-%d %H:%M}"
    except ValueError:
        return stamp


def hint_panel(kata: Kata, number: int) -> Panel:
    """Hint `number` (1-based; clamped to the kata's hints)."""
    number = min(max(number, 1), len(kata.hints))
    title = f"Hint {number} of {len(kata.hints)} · {kata.slug}"
    return Panel(Markdown(kata.hints[number - 1]), title=title, title_align="left", border_style="yellow")


def show_diff(out: Console, diff: str) -> None:
    for line in diff.splitlines():
        style = "green" if line.startswith("+") else "red" if line.startswith("-") else ""
        style = "cyan" if line.startswith("@@") else "bold" if line.startswith(("+++", "---")) else style
        out.print(Text(line, style=style), soft_wrap=True)
