"""`dojo watch`: grade a kata on every save, and go on to the next one after a real pass.

The saves are noticed by watchfiles in a thread of their own, from the moment the watch starts, even
while a grading runs. It watches `katas/` and keeps the changes inside the kata's folder, so that a
folder replaced as a whole (`dojo reset` in another terminal, a `git checkout`) is still watched.
"""

import queue
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from pathlib import Path

from rich.text import Text
from watchfiles import Change, DefaultFilter

from dojo import paths
from dojo.cli import render
from dojo.cli.core import FAILED, OK, Dojo, DojoError, GradingTimeoutError, WarmPool
from dojo.manifest import Kata
from dojo.progress import missing_files
from dojo.results import KataStatus

SAVE_GROUPING_MS = 400  # a save that writes several files (or a temp file, then renames) grades once
CLOCK_MARGIN_SECONDS = 0.02

#: Gives a set of (change, path) pairs after each save in the folder, until the stop event is set.
ChangeSource = Callable[[Path, threading.Event | None], Iterable[set[tuple[object, str]]]]

#: Files editors write next to the one being saved, and remove or rename right after.
EDITOR_TEMP_FILES = re.compile(
    r"""
    ^sed[A-Za-z0-9]{6}$             # sed -i
    | ^4913$ | \.sw[a-p]$ | ~$      # vim: its write test, swap files, backups
    | ^\#.*\#$ | ^\.\#              # emacs: auto-save and lock files
    | ___jb_(tmp|old|bak)___$       # JetBrains' safe write
    | \.kate-swp$ | ^\.goutputstream- | ^\.~lock\.
    """,
    re.VERBOSE,
)


def is_editor_temp_file(name: str) -> bool:
    return EDITOR_TEMP_FILES.search(name) is not None


class KataFilter(DefaultFilter):
    """watchfiles' default filter, kept to one kata's folder and without editors' temporary files."""

    def __init__(self, folder: Path) -> None:
        super().__init__()
        self.folder = str(folder)

    def __call__(self, change: Change, path: str) -> bool:
        inside = path == self.folder or path.startswith(self.folder + "/")
        return inside and not is_editor_temp_file(Path(path).name) and super().__call__(change, path)


class FolderChanges:
    """The saves in a kata's folder, noticed by watchfiles from the moment this is made, even during a grading.

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
        from watchfiles import watch

        try:
            for batch in watch(
                self._folder.parent,  # the folder itself may be replaced: watch the one that holds it
                watch_filter=KataFilter(self._folder),
                debounce=SAVE_GROUPING_MS,
                step=25,
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

    def waiting(self) -> set[str]:
        """The names of the files in the batches not read yet."""
        with self._batches.mutex:
            batches = list(self._batches.queue)
        return {Path(name).name for batch in batches if batch is not None for _change, name in batch}

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


def changes_from_watchfiles(poll: bool) -> ChangeSource:
    return lambda folder, stop: FolderChanges(folder, stop, poll=poll)


def saved_names(batch: set[tuple[object, str]]) -> list[str]:
    """The files a save changed, as the banner lists them (without editors' temporary files)."""
    return sorted({Path(name).name for _change, name in batch if not is_editor_temp_file(Path(name).name)})


def saved_at(batch: set[tuple[object, str]]) -> float | None:
    """When the newest changed file was written: the moment of the save."""
    times = []
    for _change, name in batch:
        try:
            times.append(Path(name).stat().st_mtime)
        except OSError:
            continue
    return max(times) if times else None


def seen_by(batch: set[tuple[object, str]], started: float | None) -> bool:
    """Every file of the batch was on disk, as it is now, when the last grading started: it graded them.

    The second file of a save that writes two (or a file the editor touched again) can come in a batch
    of its own, after the grading has begun; grading it again would only say the same thing twice.
    """
    if started is None:
        return False
    for _change, name in batch:
        try:  # a file system stamps times from a coarser clock: a save just before the start still counts
            if Path(name).stat().st_mtime > started - CLOCK_MARGIN_SECONDS:
                return False
        except OSError:  # removed since: a change the grading did not see
            return False
    return True


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
    pool = WarmPool() if warm else None
    try:
        return _watch(dojo, kata, changes, stop, pool, stay)
    finally:
        if pool is not None:
            pool.close()


def _watch(
    dojo: Dojo, kata: Kata, changes: ChangeSource, stop: threading.Event | None, pool: WarmPool | None, stay: bool
) -> int:
    repo = paths.repo()
    passed_here: set[str] = set()
    current: Kata | None = kata
    while current is not None:
        folder = repo.kata(current.slug)
        if not folder.is_dir():
            render.show_missing(dojo.err, current, missing_files(current))
            return FAILED
        render.show_kata(dojo.out, current, dojo.row(current), dojo.katas)
        dojo.out.print(
            f"\n[bold]Watching {repo.shown(folder)}/[/] — save a file to re-grade; [bold]Ctrl-C[/] to stop. "
            f"If saves are not noticed (network drive, WSL), use [bold]uv run dojo watch --poll[/] "
            f"or run [bold]uv run dojo check {current.slug}[/].",
            soft_wrap=True,
        )
        batches = iter(changes(folder, stop))  # listening before the first grading: no save is missed
        try:
            started = time.time()
            passed = grade_once(dojo, current, None, pool)
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
                    names = saved_names(batch)
                    if not names or seen_by(batch, started):
                        continue
                    when = f"{datetime.now().astimezone():%H:%M:%S}"
                    dojo.out.rule(f"{when} · saved: {', '.join(names)}", style="dim")
                    started = time.time()
                    if grade_once(dojo, current, saved_at(batch), pool) and not keep:
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


def grade_once(dojo: Dojo, kata: Kata, saved: float | None, pool: WarmPool | None) -> bool:
    """Grade after a save; True for a real pass. A grading that times out is reported, and watching goes on."""
    gone = missing_files(kata)
    if gone:
        render.show_missing(dojo.err, kata, gone)
        return False
    before = dojo.load_state().kata(kata.slug).first_passed_at
    try:
        grading = dojo.grade([kata], warm=pool)
    except GradingTimeoutError as timeout:
        render.show_timeout(dojo.out, timeout)
        dojo.out.print("  Still watching: save a fix to grade again.")
        return False
    result = grading.katas.get(kata.slug)
    hints = dojo.load_state().kata(kata.slug).hints_shown
    passed = render.show_result(dojo.out, kata, result, grading, first_pass=before is None, hints_shown=hints)
    if saved is not None:
        delay = time.time() - saved
        if 0 <= delay < 600:
            dojo.out.print(Text(f"  (result {delay:.1f} s after the save)", style="dim"))
    return passed and result is not None and result.status == KataStatus.SOLVED
