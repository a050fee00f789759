"""One invocation of `dojo`: where it writes, the learner's state, and grading.

Every read and write of `.dojo/` that a command makes goes through `Dojo`, so that a damaged or
read-only `.dojo` gives one clear note instead of a traceback.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from dojo import config, names, paths
from dojo.files import StateError, now
from dojo.manifest import Kata, load_katas
from dojo.progress import Row, rows
from dojo.results import KataStatus
from dojo.runner import TIMED_OUT, Grading, WarmPytest, grade
from dojo.state import State, load_state, prepare_state_dir, read_results, save_state

OK, FAILED, USAGE = 0, 1, 2
GRADING_TIMEOUT = 600.0  # seconds: a grading that takes longer is stopped and reported


class DojoError(Exception):
    """Stops the command with a message for the learner and an exit status."""

    def __init__(self, message: str, status: int = USAGE) -> None:
        super().__init__(message)
        self.status = status


class GradingTimeoutError(Exception):
    """A grading did not finish in time; the message names the katas and the time."""

    def __init__(self, katas: Sequence[Kata], seconds: float) -> None:
        self.katas = tuple(katas)
        self.seconds = seconds
        slugs = ", ".join(kata.slug for kata in katas)
        super().__init__(
            f"the grading of {slugs} was stopped after {seconds:g} s without a result. Look for code that never "
            "ends or waits (a loop, a sleep, a network call), also at the top of a module: it runs when the "
            "kata is loaded."
        )


def find_root(start: Path) -> Path:
    """The dojo clone to work in: `DOJO_REPO` if set, else the folder (or a parent) holding katas.toml."""
    override = config.repo_override()
    candidates = [Path(override).resolve()] if override else [start.resolve(), *start.resolve().parents]
    for folder in candidates:
        if (folder / "katas.toml").is_file() and (folder / "katas").is_dir():
            return folder
    where = f"DOJO_REPO={override}" if override else str(start)
    home = paths.HOME.root
    hint = f"\n    cd {home} && uv run dojo" if (home / "katas.toml").is_file() else ""
    raise DojoError(
        f"{where} is not inside the Backend Standards Dojo: `dojo` runs in a clone of it, "
        f"in the folder that holds katas.toml (or any folder below it).{hint}"
    )


class WarmPool:
    """One pytest process kept ready in the clone, so that `dojo watch` grades a save without a cold start."""

    def __init__(self) -> None:
        self.root = paths.repo().root
        self._ready: WarmPytest | None = WarmPytest(cwd=self.root)

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


@dataclass
class Dojo:
    """The consoles a command writes to, and its access to the learner's state (in `paths.repo()`)."""

    out: Console
    err: Console
    grading_timeout: float | None = None  # seconds; GRADING_TIMEOUT by default
    _notices: set[str] = field(default_factory=set, init=False)

    @property
    def repo(self) -> paths.Repo:
        return paths.repo()

    @property
    def katas(self) -> tuple[Kata, ...]:
        return load_katas(self.repo.manifest)

    def note(self, message: str) -> None:
        """A one-line note on stderr, once per invocation."""
        if message not in self._notices:
            self._notices.add(message)
            self.err.print(f"[yellow]Note:[/] {escape(message)}", soft_wrap=True)

    def kata(self, name: str) -> Kata:
        """The kata a learner named: its slug, or its folder (`katas/n_plus_one/`)."""
        by_slug = {kata.slug: kata for kata in self.katas}
        found = by_slug.get(names.normalize(name))
        if found is None:
            raise DojoError(names.unknown_kata(name))
        return found

    # --- state --------------------------------------------------------------------------------------

    def prepare(self) -> None:
        """Before a command: `.dojo` is a folder (a file there is set aside)."""
        try:
            notice = prepare_state_dir(self.repo.state)
        except StateError as error:
            self.note(str(error))
            return
        if notice:
            self.note(notice)

    def load_state(self) -> State:
        state, notice = load_state(self.repo.state)
        if notice:
            self.note(notice)
        return state

    def save_state(self, state: State) -> bool:
        """Save; when `.dojo` cannot be written, say so once and go on (the command still does its job)."""
        try:
            save_state(self.repo.state, state)
        except StateError as error:
            self.note(str(error))
            return False
        return True

    def forget_result(self, slug: str) -> None:
        from dojo.state import forget_result

        try:
            forget_result(self.repo.state, slug)
        except StateError as error:
            self.note(str(error))

    def rows(self) -> list[Row]:
        """Where the learner stands, kata by kata; a pass graded outside `dojo` (`uv run pytest katas`)
        is remembered with the time of that grading."""
        state = self.load_state()
        results, finished_at = read_results(self.repo.state)
        found = rows(state, results, finished_at)
        unrecorded = [r for r in found if r.status == "solved" and not state.kata(r.slug).first_passed_at]
        for row in unrecorded:
            state.kata(row.slug).first_passed_at = row.first_passed_at
        if unrecorded:
            self.save_state(state)
        return found

    def current(self, found: list[Row] | None = None, skip: Iterable[str] = ()) -> Row | None:
        """The first kata, in manifest order, that is not solved."""
        skipped = set(skip)
        return next((row for row in found or self.rows() if row.status != "solved" and row.slug not in skipped), None)

    def row(self, kata: Kata) -> Row:
        return next(row for row in self.rows() if row.slug == kata.slug)

    # --- grading ------------------------------------------------------------------------------------

    def grade(self, katas: Sequence[Kata], warm: WarmPool | None = None) -> Grading:
        """Grade the katas with pytest (which also refreshes `.dojo/results.json`), and remember it.

        Raises `GradingTimeoutError` when the grading does not finish in `grading_timeout` seconds.
        """
        label = ", ".join(kata.slug for kata in katas) if len(katas) <= 3 else f"{len(katas)} katas"
        timeout = self.grading_timeout or GRADING_TIMEOUT
        process = warm.take() if warm is not None else None
        try:
            with self.out.status(f"Grading {label}…"):
                grading = grade(
                    [f"katas/{kata.slug}" for kata in katas],
                    cwd=self.repo.root,
                    warm=process,
                    timeout=timeout,
                )
        finally:
            if process is not None:
                process.close()
            if warm is not None:
                warm.refill()  # after the grading, not during it: the next one starts while you read
        if grading.exit_code == TIMED_OUT:  # stopped: the results say so, and nothing else is known
            raise GradingTimeoutError(katas, timeout)
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
            if result.status == KataStatus.SOLVED and remembered.first_passed_at is None:
                remembered.first_passed_at = graded_at
        self.save_state(state)
        return grading
