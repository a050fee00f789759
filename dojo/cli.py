"""`uv run dojo`: the training loop around the graders.

`uv run pytest katas` stays the grading contract; this command is the friendly loop around it: which
kata is next, what failed and where to read about it, a watch mode, hints one at a time, a reset that
backs up first, the solution once solved, and a progress report for the workshop lead.
"""

import argparse
import difflib
import os
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from rich.console import Console, Group
from rich.markdown import Markdown
from rich.markup import escape
from rich.panel import Panel
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from dojo import backups, paths, progress
from dojo.manifest import Kata, ManifestError, load_katas
from dojo.progress import Row
from dojo.rules import load_rules, rule_url
from dojo.runner import Grading, KataResult, WarmPytest, grade
from dojo.state import State, forget_result, load_state, now, read_results, save_state

OK, FAILED, USAGE = 0, 1, 2
SAVE_GROUPING_MS = 400  # a save that writes several files (or a temp file, then renames) grades once
STATUS_STYLES = {"solved": "green", "failing": "red", "not started": "dim"}
STATUS_MARKS = {"solved": "✔", "failing": "✘", "not started": "·"}

#: Gives a set of (change, path) pairs after each save in the folder, until the stop event is set.
ChangeSource = Callable[[Path, threading.Event | None], Iterable[set[tuple[object, str]]]]


class WarmPool:
    """One pytest process kept ready in the clone, so that `dojo watch` grades a save without a cold start."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._ready: WarmPytest | None = WarmPytest(cwd=root)

    def take(self) -> WarmPytest | None:
        process, self._ready = self._ready, None
        return process

    def refill(self) -> None:
        if self._ready is None:
            self._ready = WarmPytest(cwd=self.root)

    def close(self) -> None:
        if self._ready is not None:
            self._ready.close()
            self._ready = None


class DojoError(Exception):
    """Stops the command with a message for the learner and an exit status."""

    def __init__(self, message: str, status: int = USAGE) -> None:
        super().__init__(message)
        self.status = status


def find_root(start: Path) -> Path:
    """The dojo clone to work in: `DOJO_REPO` if set, else the folder (or a parent) holding katas.toml."""
    override = os.environ.get("DOJO_REPO")
    candidates = [Path(override).resolve()] if override else [start.resolve(), *start.resolve().parents]
    for folder in candidates:
        if (folder / "katas.toml").is_file() and (folder / "katas").is_dir():
            return folder
    where = f"DOJO_REPO={override}" if override else str(start)
    hint = f"\n    cd {paths.REPO} && uv run dojo" if (paths.REPO / "katas.toml").is_file() else ""
    raise DojoError(
        f"{where} is not inside the Backend Standards Dojo: `dojo` runs in a clone of it, "
        f"in the folder that holds katas.toml (or any folder below it).{hint}"
    )


def humanize(test: str) -> str:
    """`test_query_count_is_within_budget[3]` → `query count is within budget [3]`."""
    name, bracket, rest = test.partition("[")
    return name.removeprefix("test_").replace("_", " ") + (f" [{rest}" if bracket else "")


@dataclass
class Dojo:
    """One invocation of `dojo`: the clone it works in and where it writes."""

    root: Path
    out: Console
    err: Console
    _notices_shown: bool = field(default=False, init=False)

    # --- the katas and where they stand ---------------------------------------------------------

    @property
    def katas(self) -> tuple[Kata, ...]:
        return load_katas(self.root / "katas.toml")

    @property
    def state_dir(self) -> Path:
        return self.root / ".dojo"

    def kata_dir(self, kata: Kata) -> Path:
        return self.root / "katas" / kata.slug

    def shown(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.root))
        except ValueError:
            return str(path)

    def kata(self, name: str) -> Kata:
        """The kata a learner named: its slug, or its folder (`katas/n_plus_one/`)."""
        slug = name.strip().rstrip("/").removeprefix("./")
        for prefix in ("katas/", "solutions/", "graders/"):
            slug = slug.removeprefix(prefix)
        slug = slug.split("/", 1)[0].replace("-", "_").lower()
        by_slug = {kata.slug: kata for kata in self.katas}
        if slug in by_slug:
            return by_slug[slug]
        close = difflib.get_close_matches(slug, list(by_slug), n=3, cutoff=0.5)
        close += [s for s in by_slug if slug and slug in s and s not in close]
        suggestion = f" Did you mean: {', '.join(close[:3])}?" if close else ""
        raise DojoError(f"There is no kata named {name!r}.{suggestion} `uv run dojo list` shows them all.")

    def load_state(self) -> State:
        state, notice = load_state(self.state_dir)
        if notice and not self._notices_shown:
            self.err.print(f"[yellow]Note:[/] {escape(notice)}", soft_wrap=True)
            self._notices_shown = True
        return state

    def rows(self) -> list[Row]:
        """Where the learner stands, kata by kata; a pass graded outside `dojo` is remembered too."""
        state = self.load_state()
        results, finished_at = read_results(self.state_dir)
        found = progress.rows(self.root, state, results, finished_at)
        unrecorded = [r for r in found if r.status == "solved" and not state.kata(r.slug).first_passed_at]
        for row in unrecorded:
            state.kata(row.slug).first_passed_at = row.first_passed_at
        if unrecorded:
            save_state(self.state_dir, state)
        return found

    def current(self, found: list[Row] | None = None, skip: Iterable[str] = ()) -> Row | None:
        """The first kata, in manifest order, that is not solved."""
        skipped = set(skip)
        return next((row for row in found or self.rows() if row.status != "solved" and row.slug not in skipped), None)

    def row(self, kata: Kata) -> Row:
        return next(row for row in self.rows() if row.slug == kata.slug)

    # --- grading --------------------------------------------------------------------------------

    def grade(self, katas: Sequence[Kata], warm: WarmPool | None = None) -> Grading:
        """Grade the katas with pytest (which also refreshes `.dojo/results.json`), and remember it."""
        label = ", ".join(kata.slug for kata in katas) if len(katas) <= 3 else f"{len(katas)} katas"
        process = warm.take() if warm is not None else None
        try:
            with self.out.status(f"Grading {label}…"):
                grading = grade([f"katas/{kata.slug}" for kata in katas], cwd=self.root, warm=process)
        finally:
            if process is not None:
                process.close()
        if warm is not None:
            warm.refill()  # after the grading, not during it: the next one starts while you read
        state = self.load_state()
        graded_at = now()
        for kata in katas:
            result = grading.katas.get(kata.slug)
            if result is None:
                continue
            remembered = state.kata(kata.slug)
            remembered.attempts += 1
            remembered.last_graded_at = graded_at
            remembered.last_status = result.status
            if result.status == "passed" and remembered.first_passed_at is None:
                remembered.first_passed_at = graded_at
        save_state(self.state_dir, state)
        return grading

    def missing(self, kata: Kata) -> bool:
        """Say so, and offer a reset, when files of the kata were deleted."""
        gone = progress.missing_files(self.root, kata)
        if not gone:
            return False
        folder = self.kata_dir(kata)
        what = (
            f"{self.shown(folder)}/ is missing"
            if not folder.is_dir()
            else (
                f"{len(gone)} file{'s' if len(gone) > 1 else ''} of {self.shown(folder)}/ "
                f"{'are' if len(gone) > 1 else 'is'} missing: {', '.join(gone)}"
            )
        )
        self.err.print(
            f"[red]✘ {kata.slug}[/]: {escape(what)}.\n"
            f"  [bold]uv run dojo reset {kata.slug}[/] restores the starter (whatever is left is backed up first); "
            f"[bold]uv run dojo backups {kata.slug}[/] lists earlier backups."
        )
        return True

    def show_result(self, kata: Kata, result: KataResult | None, grading: Grading, *, first_pass: bool) -> bool:
        """A short summary of one kata's grading: the first failing lesson in the grader's words."""
        if result is None:
            tail = "\n".join(grading.output.strip().splitlines()[-25:])
            self.out.print(f"[red]✘ {kata.slug}[/]: it could not be graded; pytest said:")
            self.out.print(Text(tail), soft_wrap=True)
            return False
        failures = progress.failures_of(result)
        total = len(result.tests)
        if result.status == "passed":
            skipped = sum(t.outcome == "skipped" for t in result.tests)
            note = f" ({skipped} check{'s' if skipped > 1 else ''} skipped: PostgreSQL only)" if skipped else ""
            self.out.print(f"[bold green]✔ {kata.slug}[/] passes: {total - skipped} of {total} checks{note}.")
            if first_pass:
                self.out.print(
                    f"  [green]Solved![/] Compare with the reference: [bold]uv run dojo solution {kata.slug}[/] · "
                    f"next kata: [bold]uv run dojo next[/]"
                )
            return True
        if result.status == "skipped":
            self.out.print(f"[yellow]• {kata.slug}[/]: every check was skipped (they need PostgreSQL).")
            return False
        first = failures[0] if failures else None
        if result.status == "broken" or (first and first.broken):
            self.out.print(f"[bold red]✘ {kata.slug}[/]: the code could not be loaded.")
            if first:
                self.out.print(Text("  " + first.message), soft_wrap=True)
            self.out.print(
                f"  [bold]uv run dojo check -v {kata.slug}[/] shows where; [bold]uv run dojo reset {kata.slug}[/] "
                "restores the starter (your files are backed up first)."
            )
            return False
        self.out.print(f"[bold red]✘ {kata.slug}[/]: {len(failures)} of {total} checks fail.")
        if first is not None:
            if first.rule:
                rule = load_rules()[first.rule]
                self.out.print(f"  [bold]{rule.id} · {escape(rule.title)}[/] — {escape(humanize(first.test))}")
                self.out.print(Text("  " + first.message), soft_wrap=True)
                self.out.print(Text(f"  Read: {rule_url(rule.id)}"), soft_wrap=True)
            else:
                self.out.print(f"  [bold]Behaviour check[/] — {escape(humanize(first.test))}")
                self.out.print(Text("  " + first.message), soft_wrap=True)
                self.out.print(
                    f"  This check is not the lesson: the code must still do what it did (katas/{kata.slug}/README.md)."
                )
        others = [f"{humanize(f.test)} ({f.rule or 'behaviour'})" for f in failures[1:]]
        if others:
            self.out.print(Text(f"  Also failing: {'; '.join(others)}", style="dim"), soft_wrap=True)
        hints = self.load_state().kata(kata.slug).hints_shown
        self.out.print(
            f"  Stuck? [bold]uv run dojo hint {kata.slug}[/] ({hints} of {len(kata.hints)} hints shown) · "
            f"the kata's page: {paths.SITE_URL}/{kata.page}",
            soft_wrap=True,
        )
        return False

    def show_kata(self, kata: Kata, row: Row) -> None:
        """A kata's instructions: what to do, the files to edit, its page, how to grade it."""
        rules = load_rules()
        number = [k.slug for k in self.katas].index(kata.slug) + 1
        trains = ", ".join(f"{r} · {rules[r].title}" for r in kata.rules)
        readme = self.kata_dir(kata) / "README.md"
        if not readme.is_file():
            readme = self.root / "solutions" / kata.slug / "README.md"
        body = readme.read_text(encoding="utf-8").split("\n", 1)[-1].strip() if readme.is_file() else ""
        status = Text(f"{STATUS_MARKS[row.status]} {row.status}", style=STATUS_STYLES[row.status])
        if row.status == "failing" and row.failures:
            status.append(f" — {', '.join(sorted({f.rule or 'behaviour' for f in row.failures}))}")
        header = Text.assemble(
            (f"Kata {number} of {len(self.katas)} · ", "dim"),
            (kata.title, "bold"),
            (f"  ({kata.slug})\n", "dim"),
            (f"Trains {trains} · {kata.difficulty} · about {kata.minutes} minutes\n", ""),
            "Status: ",
            status,
        )
        self.out.print(Panel(Group(header, Text(""), Markdown(body)), border_style="magenta", expand=False))
        files = ", ".join(f"[link=file://{self.kata_dir(kata) / n}]katas/{kata.slug}/{n}[/link]" for n in kata.files)
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold")
        grid.add_column()
        grid.add_row("Edit", files)
        grid.add_row("Read", f"{paths.SITE_URL}/{kata.page}  (serve the site with [bold]uv run mkdocs serve[/])")
        grid.add_row(
            "Grade", f"[bold]uv run dojo check {kata.slug}[/], or on every save: [bold]uv run dojo watch {kata.slug}[/]"
        )
        grid.add_row("Stuck?", f"[bold]uv run dojo hint {kata.slug}[/] ({row.hints_shown} of {len(kata.hints)} shown)")
        self.out.print(grid)


# --- commands -------------------------------------------------------------------------------------


def _unique(katas: list[Kata]) -> list[Kata]:
    return list({kata.slug: kata for kata in katas}.values())


def cmd_list(dojo: Dojo, args: argparse.Namespace) -> int:
    found = dojo.rows()
    current = dojo.current(found)
    table = Table(title="Backend Standards Dojo · katas", title_justify="left", expand=False)
    table.add_column("#", justify="right")
    table.add_column("Kata")
    table.add_column("Status")
    table.add_column("Rules")
    table.add_column("Level")
    table.add_column("Min", justify="right")
    for number, row in enumerate(found, start=1):
        status = Text(f"{STATUS_MARKS[row.status]} {row.status}", style=STATUS_STYLES[row.status])
        if row.missing_files:
            status = Text("✘ files missing", style="red")
        elif row.status == "failing":
            failing = sorted({f.rule or "behaviour" for f in row.failures})
            status.append(f" ({', '.join(failing)})" if failing else "")
        marker = "▶ " if current is not None and row.slug == current.slug else ""
        kata = Text.assemble((marker + row.slug, "bold"), ("\n" + row.kata.title, "dim"))
        table.add_row(str(number), kata, status, ", ".join(row.kata.rules), row.kata.difficulty, str(row.kata.minutes))
    dojo.out.print(table)
    solved = sum(row.status == "solved" for row in found)
    bar = Table.grid(padding=(0, 1))
    bar.add_row("Progress", ProgressBar(total=len(found), completed=solved, width=30), f"{solved}/{len(found)} solved")
    dojo.out.print(bar)
    if current is None:
        dojo.out.print("[green]Every kata is solved.[/] [bold]uv run dojo progress[/] shows your report.")
    else:
        dojo.out.print(
            f"Next: [bold]uv run dojo next[/] ({current.slug}) · grade on every save: [bold]uv run dojo watch[/]"
        )
    for row in found:
        if row.missing_files:
            dojo.missing(row.kata)
    return OK


def cmd_next(dojo: Dojo, args: argparse.Namespace) -> int:
    found = dojo.rows()
    current = dojo.current(found)
    if current is None:
        dojo.out.print(
            f"[green]All {len(found)} katas are solved.[/] Compare your code with the references "
            "([bold]uv run dojo solution SLUG[/]) and share [bold]uv run dojo progress --json[/] with your lead."
        )
        return OK
    dojo.show_kata(current.kata, current)
    if current.missing_files:
        dojo.missing(current.kata)
    return OK


def cmd_check(dojo: Dojo, args: argparse.Namespace) -> int:
    katas = _unique([dojo.kata(name) for name in args.slugs] if args.slugs else list(dojo.katas))
    gradable = [kata for kata in katas if not dojo.missing(kata)]
    if not gradable:
        return FAILED
    before = {slug: s.first_passed_at for slug, s in dojo.load_state().katas.items()}
    grading = dojo.grade(gradable)
    if args.verbose:
        dojo.out.print(Text(grading.output), soft_wrap=True)
    passed = [
        dojo.show_result(
            kata,
            result := grading.katas.get(kata.slug),
            grading,
            first_pass=result is not None and result.status == "passed" and not before.get(kata.slug),
        )
        for kata in gradable
    ]
    return OK if all(passed) and len(gradable) == len(katas) else FAILED


class FolderChanges:
    """The saves in a folder, noticed by watchfiles from the moment this is made, even during a grading.

    Iterating gives one batch per save, or one for all the saves made while the last grading ran.
    """

    def __init__(self, folder: Path, stop: threading.Event | None, *, poll: bool) -> None:
        self._batches: queue.Queue[set[tuple[object, str]] | None] = queue.Queue()
        self._closed = threading.Event()
        self._stop = stop
        self._error: Exception | None = None
        self._folder = folder
        self._thread = threading.Thread(target=self._collect, args=(poll,), daemon=True, name=f"watch {folder}")
        self._thread.start()

    def is_set(self) -> bool:
        """watchfiles' stop event: closed, or stopped from outside."""
        return self._closed.is_set() or (self._stop is not None and self._stop.is_set())

    def _collect(self, poll: bool) -> None:
        from watchfiles import DefaultFilter, watch

        try:
            for batch in watch(
                self._folder,
                watch_filter=DefaultFilter(),
                debounce=SAVE_GROUPING_MS,
                step=50,
                stop_event=self,
                force_polling=True if poll else None,
                poll_delay_ms=200,
                raise_interrupt=False,
            ):
                self._batches.put(set(batch))
        except Exception as error:  # shown by the reading side, which can stop the command
            self._error = error
        finally:
            self._batches.put(None)

    def __iter__(self) -> Iterator[set[tuple[object, str]]]:
        return self

    def __next__(self) -> set[tuple[object, str]]:
        batch = self._batches.get()
        while batch is not None:
            try:
                more = self._batches.get_nowait()
            except queue.Empty:
                return batch
            if more is None:
                self._batches.put(None)
                return batch
            batch |= more
        if self._error is not None:
            raise DojoError(
                f"Watching {self._folder} failed ({self._error}). Try `uv run dojo watch --poll`, "
                "or grade after each save with `uv run dojo check`.",
                FAILED,
            )
        raise StopIteration

    def close(self) -> None:
        self._closed.set()


def _changes_from_watchfiles(poll: bool) -> ChangeSource:
    return lambda folder, stop: FolderChanges(folder, stop, poll=poll)


def _saved_at(batch: set[tuple[object, str]]) -> float | None:
    """When the newest changed file was written: the moment of the save."""
    times = []
    for _change, name in batch:
        try:
            times.append(Path(name).stat().st_mtime)
        except OSError:
            continue
    return max(times) if times else None


def watch_loop(
    dojo: Dojo,
    kata: Kata,
    changes: ChangeSource,
    *,
    stop: threading.Event | None = None,
    warm: bool = True,
    stay: bool = False,
) -> int:
    """Grade `kata`, then again after every save; after a real pass, go on to the next unsolved kata.

    With `stay`, a kata that passes from the start is watched anyway (the learner named it).
    """
    pool = WarmPool(dojo.root) if warm else None
    try:
        return _watch(dojo, kata, changes, stop, pool, stay)
    finally:
        if pool is not None:
            pool.close()


def _watch(
    dojo: Dojo, kata: Kata, changes: ChangeSource, stop: threading.Event | None, pool: WarmPool | None, stay: bool
) -> int:
    passed_here: set[str] = set()
    current: Kata | None = kata
    while current is not None:
        folder = dojo.kata_dir(current)
        if not folder.is_dir():
            dojo.missing(current)
            return FAILED
        dojo.show_kata(current, dojo.row(current))
        dojo.out.print(
            f"\n[bold]Watching {dojo.shown(folder)}/[/] — save a file to re-grade; [bold]Ctrl-C[/] to stop. "
            f"If saves are not noticed (network drive, WSL), use [bold]uv run dojo watch --poll[/] "
            f"or run [bold]uv run dojo check {current.slug}[/].",
            soft_wrap=True,
        )
        batches = iter(changes(folder, stop))  # listening before the first grading: no save is missed
        try:
            passed = _grade_in_watch(dojo, current, None, pool)
            keep = passed and stay  # a kata named on the command line that passes already: stay on it
            stay = False
            if keep:
                dojo.out.print(
                    f"{current.slug} passes already: watching it anyway (without a name, "
                    "[bold]uv run dojo watch[/] follows the next unsolved kata)."
                )
            if keep or not passed:
                passed = False
                for batch in batches:
                    if stop is not None and stop.is_set():
                        return OK
                    names = sorted({Path(name).name for _change, name in batch})
                    when = f"{datetime.now().astimezone():%H:%M:%S}"
                    dojo.out.rule(f"{when} · saved: {', '.join(names)}", style="dim")
                    if _grade_in_watch(dojo, current, _saved_at(batch), pool) and not keep:
                        passed = True
                        break
        finally:
            close = getattr(batches, "close", None)
            if callable(close):
                close()
        if not passed or (stop is not None and stop.is_set()):
            return OK
        passed_here.add(current.slug)
        following = dojo.current(skip=passed_here)
        if following is None:
            dojo.out.print("\n[bold green]Every kata is solved![/] [bold]uv run dojo progress[/] shows your report.")
            return OK
        dojo.out.print(f"\n[bold]On to the next kata: {following.slug}[/]\n")
        current = following.kata
    return OK


def _grade_in_watch(dojo: Dojo, kata: Kata, saved_at: float | None, pool: WarmPool | None) -> bool:
    if progress.missing_files(dojo.root, kata):
        dojo.missing(kata)
        return False
    before = dojo.load_state().kata(kata.slug).first_passed_at
    grading = dojo.grade([kata], warm=pool)
    result = grading.katas.get(kata.slug)
    passed = dojo.show_result(kata, result, grading, first_pass=before is None)
    if saved_at is not None:
        delay = time.time() - saved_at
        if 0 <= delay < 600:
            dojo.out.print(Text(f"  (result {delay:.1f} s after the save)", style="dim"))
    return passed and result is not None and result.status == "passed"


def cmd_watch(dojo: Dojo, args: argparse.Namespace) -> int:
    if args.slug:
        kata = dojo.kata(args.slug)
    else:
        current = dojo.current()
        if current is None:
            dojo.out.print("[green]Every kata is solved.[/] Name one to keep working on it: uv run dojo watch SLUG")
            return OK
        kata = current.kata
    try:
        return watch_loop(dojo, kata, _changes_from_watchfiles(args.poll), stay=bool(args.slug))
    except KeyboardInterrupt:
        dojo.out.print("\nStopped watching. [bold]uv run dojo[/] shows where you are.")
        return OK


def cmd_hint(dojo: Dojo, args: argparse.Namespace) -> int:
    if args.slug:
        kata = dojo.kata(args.slug)
    else:
        current = dojo.current()
        if current is None:
            raise DojoError("Every kata is solved; name the kata: uv run dojo hint SLUG")
        kata = current.kata
    state = dojo.load_state()
    remembered = state.kata(kata.slug)
    total = len(kata.hints)
    if args.all:
        if remembered.hints_shown == 0:
            dojo.out.print(f"No hint of {kata.slug} shown yet: [bold]uv run dojo hint {kata.slug}[/] shows the first.")
        for number in range(1, min(remembered.hints_shown, total) + 1):
            _print_hint(dojo, kata, number)
        return OK
    if remembered.hints_shown >= total:
        dojo.out.print(
            f"No more hints: all {total} hints of {kata.slug} have been shown (the last one again below; "
            f"[bold]uv run dojo hint --all {kata.slug}[/] shows them all). Once the kata passes, "
            f"[bold]uv run dojo solution {kata.slug}[/] shows the reference."
        )
        _print_hint(dojo, kata, total)
        return OK
    remembered.hints_shown += 1
    save_state(dojo.state_dir, state)
    _print_hint(dojo, kata, remembered.hints_shown)
    if remembered.hints_shown < total:
        dojo.out.print(f"[dim]Another one: uv run dojo hint {kata.slug}[/]")
    else:
        dojo.out.print("[dim]That was the last hint.[/]")
    return OK


def _print_hint(dojo: Dojo, kata: Kata, number: int) -> None:
    title = f"Hint {number} of {len(kata.hints)} · {kata.slug}"
    dojo.out.print(Panel(Markdown(kata.hints[number - 1]), title=title, title_align="left", border_style="yellow"))


def _confirm(dojo: Dojo, question: str) -> bool:
    dojo.out.print(question + " [y/N] ", end="")
    try:
        answer = input()
    except EOFError:
        answer = ""
    return answer.strip().lower() in ("y", "yes")


def cmd_reset(dojo: Dojo, args: argparse.Namespace) -> int:
    if args.all == bool(args.slugs):
        raise DojoError("Name the katas to reset (uv run dojo reset SLUG), or use --all.")
    katas = list(dojo.katas) if args.all else _unique([dojo.kata(name) for name in args.slugs])
    if args.all and not args.yes:
        question = f"Reset all {len(katas)} katas to their starters? Your files are backed up first in .dojo/backups/."
        if not _confirm(dojo, question):
            dojo.out.print("Nothing was reset.")
            return FAILED
    status = OK
    for kata in katas:
        try:
            backup = backups.reset(dojo.root, kata.slug)
        except backups.RestoreError as error:
            dojo.err.print(f"[red]✘ {kata.slug}[/]: {escape(str(error))}")
            status = FAILED
            continue
        forget_result(dojo.state_dir, kata.slug)
        if backup is None:
            kept = "there were no files to back up"
        else:
            kept = (
                f"your files are in {dojo.shown(backup.path)}/ "
                f"([bold]uv run dojo restore {backup.name}[/] brings them back)"
            )
        dojo.out.print(f"[green]↺ {kata.slug}[/]: the starter is back in katas/{kata.slug}/; {kept}.", soft_wrap=True)
    return status


def cmd_backups(dojo: Dojo, args: argparse.Namespace) -> int:
    slug = dojo.kata(args.slug).slug if args.slug else None
    found = backups.list_backups(dojo.root, slug)
    if not found:
        dojo.out.print(
            "No backups yet: [bold]uv run dojo reset[/] and [bold]restore[/] make one before changing files."
        )
        return OK
    table = Table(title="Backups in .dojo/backups/ (newest last)", title_justify="left")
    table.add_column("Backup")
    table.add_column("Kata")
    table.add_column("Taken")
    table.add_column("Files")
    for backup in found:
        taken = f"{backup.created_at.astimezone():%Y-%m-%d %H:%M:%S}"
        table.add_row(backup.name, backup.slug, taken, ", ".join(backup.files))
    dojo.out.print(table)
    dojo.out.print("Restore one with [bold]uv run dojo restore BACKUP[/] (or a kata's slug: its newest backup).")
    return OK


def cmd_restore(dojo: Dojo, args: argparse.Namespace) -> int:
    found = backups.list_backups(dojo.root)
    chosen = next((backup for backup in found if backup.name == args.backup.rstrip("/").split("/")[-1]), None)
    if chosen is None:
        slug = next((kata.slug for kata in dojo.katas if kata.slug == args.backup), None)
        of_kata = [backup for backup in found if backup.slug == slug]
        if slug is not None and not of_kata:
            raise DojoError(f"There is no backup of {slug} yet.", FAILED)
        chosen = of_kata[-1] if of_kata else None
    if chosen is None:
        close = difflib.get_close_matches(args.backup, [backup.name for backup in found], n=3, cutoff=0.3)
        suggestion = f" Did you mean: {', '.join(close)}?" if close else ""
        raise DojoError(f"There is no backup named {args.backup!r}.{suggestion} `uv run dojo backups` lists them.")
    try:
        current = backups.restore(dojo.root, chosen)
    except backups.RestoreError as error:
        raise DojoError(str(error), FAILED) from None
    forget_result(dojo.state_dir, chosen.slug)
    kept = f" What was there before is in {dojo.shown(current.path)}/." if current else ""
    dojo.out.print(
        f"[green]↺ {chosen.slug}[/]: katas/{chosen.slug}/ holds the files of {chosen.name} again.{kept} "
        f"Grade them: [bold]uv run dojo check {chosen.slug}[/]",
        soft_wrap=True,
    )
    return OK


def cmd_solution(dojo: Dojo, args: argparse.Namespace) -> int:
    kata = dojo.kata(args.slug)
    row = dojo.row(kata)
    if row.status != "solved":
        if not args.force:
            dojo.err.print(
                f"The solution of {kata.slug} unlocks once the kata passes: [bold]uv run dojo check {kata.slug}[/]. "
                f"It teaches most once you have met the problem. Stuck? [bold]uv run dojo hint {kata.slug}[/]. "
                f"To look anyway: [bold]uv run dojo solution {kata.slug} --force[/]."
            )
            return FAILED
        dojo.err.print(
            f"[bold yellow]Spoiler:[/] {kata.slug} does not pass yet ({row.status}); here is the reference anyway."
        )
    chunks: list[str] = []
    for name in kata.files:
        mine = dojo.kata_dir(kata) / name
        reference = dojo.root / "solutions" / kata.slug / name
        before = mine.read_text(encoding="utf-8").splitlines(keepends=True) if mine.is_file() else []
        after = reference.read_text(encoding="utf-8").splitlines(keepends=True)
        labels = (f"katas/{kata.slug}/{name} (yours)", f"solutions/{kata.slug}/{name}")
        chunks.extend(difflib.unified_diff(before, after, *labels))
    if not chunks:
        dojo.out.print(f"Your {', '.join(kata.files)} match the reference solution exactly.")
    else:
        dojo.out.print(f"From your code (-) to the reference solution (+) of {kata.slug}:\n")
        for line in "".join(chunks).splitlines():
            style = "green" if line.startswith("+") else "red" if line.startswith("-") else ""
            style = "cyan" if line.startswith("@@") else "bold" if line.startswith(("+++", "---")) else style
            dojo.out.print(Text(line, style=style), soft_wrap=True)
    dojo.out.print(f"\nThe lesson, explained: {paths.SITE_URL}/{kata.page}#reference-solution", soft_wrap=True)
    if kata.discussion:
        dojo.out.print("To think about: " + kata.discussion[0], soft_wrap=True)
    return OK


def cmd_progress(dojo: Dojo, args: argparse.Namespace) -> int:
    found = dojo.rows()
    learner = args.name or progress.learner_name(dojo.root)
    if args.json:
        import json

        document = progress.report(found, learner=learner, generated_at=now())
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
        return OK
    if args.markdown:
        sys.stdout.write(progress.markdown(found, learner=learner, generated_at=now()))
        return OK
    table = Table(title=f"Progress of {learner}", title_justify="left")
    for column in ("Kata", "Status", "Attempts", "Hints used", "First passed"):
        table.add_column(column)
    for row in found:
        status = Text(f"{STATUS_MARKS[row.status]} {row.status}", style=STATUS_STYLES[row.status])
        first = _local_time(row.first_passed_at)
        table.add_row(row.slug, status, str(row.attempts), f"{row.hints_shown} of {len(row.kata.hints)}", first)
    dojo.out.print(table)
    dojo.out.print(
        "For your workshop lead: [bold]uv run dojo progress --json > progress.json[/] (or [bold]--markdown[/])."
    )
    return OK


def _local_time(stamp: str | None) -> str:
    if not stamp:
        return "—"
    try:
        return f"{datetime.fromisoformat(stamp).astimezone():%Y-%m-%d %H:%M}"
    except ValueError:
        return stamp


# --- the command line -----------------------------------------------------------------------------

COMMANDS: dict[str, Callable[[Dojo, argparse.Namespace], int]] = {
    "list": cmd_list,
    "next": cmd_next,
    "check": cmd_check,
    "watch": cmd_watch,
    "hint": cmd_hint,
    "reset": cmd_reset,
    "backups": cmd_backups,
    "restore": cmd_restore,
    "solution": cmd_solution,
    "progress": cmd_progress,
}


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="dojo",
        description="The Backend Standards Dojo's training loop. With no command: the katas and your progress.",
        epilog="Every command is described at http://127.0.0.1:8000/dojo-cli/ (uv run mkdocs serve).",
    )
    commands = top.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser("list", help="every kata with its status, rules, level and minutes, and your progress")
    commands.add_parser("next", help="the first unsolved kata: what to do, the files to edit, how to grade")
    check = commands.add_parser("check", help="grade katas (all by default); exit status 0 only when all pass")
    check.add_argument("slugs", nargs="*", metavar="SLUG", help="the katas to grade (default: all)")
    check.add_argument("-v", "--verbose", action="store_true", help="also show pytest's full output")
    watch = commands.add_parser("watch", help="re-grade on every save; go on to the next kata after a pass")
    watch.add_argument("slug", nargs="?", metavar="SLUG", help="the kata to start with (default: the next unsolved)")
    watch.add_argument("--poll", action="store_true", help="poll for changes (network drives, WSL, containers)")
    hint = commands.add_parser("hint", help="the next hint of a kata; each call shows one more")
    hint.add_argument("slug", nargs="?", metavar="SLUG", help="the kata (default: the next unsolved)")
    hint.add_argument("--all", action="store_true", help="show again the hints already shown, without a new one")
    reset = commands.add_parser("reset", help="back up your files, then restore the starter")
    reset.add_argument("slugs", nargs="*", metavar="SLUG")
    reset.add_argument("--all", action="store_true", help="reset every kata (asks first)")
    reset.add_argument("-y", "--yes", action="store_true", help="with --all: do not ask")
    backups_parser = commands.add_parser("backups", help="list the backups that reset and restore made")
    backups_parser.add_argument("slug", nargs="?", metavar="SLUG", help="only this kata's backups")
    restore = commands.add_parser("restore", help="put a backup's files back (backing up the current ones first)")
    restore.add_argument("backup", metavar="BACKUP", help="a name from `dojo backups`, or a slug for its newest")
    solution = commands.add_parser("solution", help="once a kata passes: the diff from your code to the reference")
    solution.add_argument("slug", metavar="SLUG")
    solution.add_argument("--force", action="store_true", help="show it before the kata passes (a spoiler)")
    report = commands.add_parser("progress", help="your progress report, for you or your workshop lead")
    form = report.add_mutually_exclusive_group()
    form.add_argument("--json", action="store_true", help="as JSON, to collect")
    form.add_argument("--markdown", action="store_true", help="as a Markdown table")
    report.add_argument("--name", help="the learner's name in the report (default: git's user.name)")
    commands.add_parser("audit", help="audit a Django codebase against the standard (see: dojo audit --help)")
    return top


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["audit"]:
        from dojo.audit.cli import main as audit_main

        return audit_main(arguments[1:])
    try:
        args = parser().parse_args(arguments)
    except SystemExit as stop:  # --help, or a usage error argparse has already explained
        return int(stop.code or 0)
    out = Console(highlight=False, emoji=False)
    err = Console(stderr=True, highlight=False, emoji=False)
    try:
        dojo = Dojo(root=find_root(Path.cwd()), out=out, err=err)
        return COMMANDS[args.command or "list"](dojo, args)
    except DojoError as error:
        err.print(Text(str(error)), soft_wrap=True)
        return error.status
    except ManifestError as error:
        err.print(Text(f"The kata manifest cannot be read: {error}"), soft_wrap=True)
        return FAILED
    except KeyboardInterrupt:
        err.print("Interrupted.")
        return 130


if __name__ == "__main__":
    sys.exit(main())
