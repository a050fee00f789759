"""The learner's state in `.dojo/` (git-ignored): what `uv run dojo` remembers between runs.

* `.dojo/results.json` is written by the grading plugin after every `pytest katas[/<slug>]`: the last
  result of each kata. This module only reads it (and forgets a kata's result when it is reset).
* `.dojo/state.json` is written here: hints shown, gradings, first pass, per kata.

A missing state file is a fresh start; an unreadable one (not JSON, not UTF-8, not the expected
shape, a folder) is set aside and rebuilt, never a crash; so is a `.dojo` that is a file. A `.dojo`
that cannot be written gives `StateError`, whose message says what to do. Every write goes to a
temporary file first and replaces the old one in one step.
"""

import json
import os
import shutil
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError

from dojo import results
from dojo.files import StateError, write_json_atomic
from dojo.runner import KataResult

STATE_FILE = "state.json"
RESULTS_FILE = "results.json"


#: A count read back from the file: a negative one (edited by hand) counts as zero.
Count = Annotated[int, AfterValidator(lambda value: max(value, 0))]


class KataState(BaseModel):
    """What the learner did with one kata."""

    model_config = ConfigDict(extra="ignore")

    hints_shown: Count = 0  # may exceed the kata's hints (a hint removed since): readers clamp it
    attempts: Count = 0
    first_passed_at: str | None = None
    last_graded_at: str | None = None
    last_status: str | None = None


class State(BaseModel):
    model_config = ConfigDict(extra="ignore")

    version: int = 1
    katas: dict[str, KataState] = {}

    def kata(self, slug: str) -> KataState:
        return self.katas.setdefault(slug, KataState())


def prepare_state_dir(state_dir: Path) -> str | None:
    """Make sure `.dojo` is a folder: one that is a file (or a broken link) is set aside first.

    Returns a one-line notice when something was set aside; raises `StateError` when it cannot be.
    """
    if state_dir.is_dir() or not (state_dir.exists() or state_dir.is_symlink()):
        return None
    kept = state_dir.with_name(f"{state_dir.name}.not-a-folder")
    number = 1
    while kept.exists() or kept.is_symlink():
        number += 1
        kept = state_dir.with_name(f"{state_dir.name}.not-a-folder-{number}")
    try:
        os.replace(state_dir, kept)
        state_dir.mkdir()
    except OSError as error:
        raise StateError(
            f"{state_dir.name} should be the folder where dojo keeps your progress, but it is a file, and it "
            f"could not be moved aside ({error.strerror or error}). Move it yourself (`mv {state_dir.name} "
            f"{kept.name}`) and run the command again."
        ) from None
    return (
        f"{state_dir.name} was a file, not the folder where dojo keeps your progress: it is kept as {kept.name}, "
        f"and a new {state_dir.name}/ was started."
    )


def _set_aside(path: Path) -> str:
    kept = path.with_name(f"{path.name}.corrupt")
    try:
        if kept.is_dir() and not kept.is_symlink():
            shutil.rmtree(kept)
        os.replace(path, kept)
    except OSError:
        return f"{path.parent.name}/{path.name} was unreadable, and could not be set aside; a fresh state is used."
    return (
        f"{path.parent.name}/{path.name} was unreadable and has been rebuilt (the old file is kept as "
        f"{path.parent.name}/{kept.name}); hints shown and attempts start again from zero, results come from "
        "the last grading."
    )


def load_state(state_dir: Path) -> tuple[State, str | None]:
    """The saved state, and a one-line notice when the file was unreadable and a new one was started."""
    path = state_dir / STATE_FILE
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return State(), None
    except PermissionError as error:
        return State(), f"Could not read {state_dir.name}/{path.name} ({error.strerror}); using a fresh state."
    except OSError:  # a folder, or `.dojo` is not a folder
        if state_dir.is_dir():
            return State(), _set_aside(path)
        return State(), f"{state_dir.name} is not a folder; using a fresh state."
    try:
        return State.model_validate(json.loads(raw.decode("utf-8"))), None
    except (ValueError, ValidationError):  # not UTF-8, not JSON, not the shape
        return State(), _set_aside(path)


def save_state(state_dir: Path, state: State) -> None:
    """Write the state (raises `StateError` when `.dojo` cannot be written)."""
    write_json_atomic(state_dir / STATE_FILE, state.model_dump(mode="json"))


def read_results(state_dir: Path) -> tuple[dict[str, KataResult], str | None]:
    """The learner's last results per kata (`.dojo/results.json`), and when that grading finished.

    The format belongs to `dojo.results`. A file that still does not parse after a writer had time to
    finish is set aside (`results.json.corrupt`), never taken for "nothing graded" silently: the next
    grading writes a new one.
    """
    path = state_dir / RESULTS_FILE
    try:
        document = results.read(path)
    except results.UnreadableResultsError:
        _set_aside(path)
        return {}, None
    except OSError:
        return {}, None
    if document is None:
        return {}, None
    return document.katas, document.finished_at


def forget_result(state_dir: Path, slug: str) -> None:
    """Drop a kata's last result (after a reset, the old result no longer describes the files)."""
    path = state_dir / RESULTS_FILE
    try:
        document = results.read(path)
    except (results.UnreadableResultsError, OSError):
        return
    if document is not None and slug in document.katas:
        del document.katas[slug]
        results.write(path, document)  # `StateError` when `.dojo` cannot be written
