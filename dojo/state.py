"""The learner's state in `.dojo/` (git-ignored): what `uv run dojo` remembers between runs.

* `.dojo/results.json` is written by the grading plugin after every `pytest katas[/<slug>]`: the last
  result of each kata. This module only reads it (and forgets a kata's result when it is reset).
* `.dojo/state.json` is written here: hints shown, gradings, first pass, per kata.

A missing state file is a fresh start; an unreadable one is set aside and rebuilt, never a crash.
Every write goes to a temporary file first and replaces the old one in one step.
"""

import json
import os
import stat
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from dojo.runner import KataResult, parse_results

STATE_FILE = "state.json"
RESULTS_FILE = "results.json"


class KataState(BaseModel):
    """What the learner did with one kata."""

    model_config = ConfigDict(extra="ignore")

    hints_shown: int = 0
    attempts: int = 0
    first_passed_at: str | None = None
    last_graded_at: str | None = None
    last_status: str | None = None


class State(BaseModel):
    model_config = ConfigDict(extra="ignore")

    version: int = 1
    katas: dict[str, KataState] = {}

    def kata(self, slug: str) -> KataState:
        return self.katas.setdefault(slug, KataState())


def now() -> str:
    """The current time as the state files write it: UTC, ISO 8601, to the second."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def write_json_atomic(path: Path, document: object) -> None:
    """Write `document` as JSON to `path`: to a temporary file first, then swapped in with one rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        "w", encoding="utf-8", dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False
    ) as handle:
        json.dump(document, handle, indent=2)
        handle.write("\n")
    os.chmod(handle.name, stat.S_IMODE(path.stat().st_mode) if path.exists() else 0o644)  # not the temp file's 0600
    os.replace(handle.name, path)


def load_state(state_dir: Path) -> tuple[State, str | None]:
    """The saved state, and a one-line notice when the file was unreadable and a new one was started."""
    path = state_dir / STATE_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return State(), None
    except OSError as error:
        return State(), f"Could not read {path.name} ({error.strerror}); starting with a fresh state."
    try:
        return State.model_validate(json.loads(text)), None
    except (ValueError, ValidationError):
        kept = path.with_name(f"{path.name}.corrupt")
        try:
            os.replace(path, kept)
        except OSError:
            kept = path
        return State(), (
            f".dojo/{path.name} was unreadable and has been rebuilt (the old file is kept as .dojo/{kept.name}); "
            "hints shown and attempts start again from zero, results come from the last grading."
        )


def save_state(state_dir: Path, state: State) -> None:
    write_json_atomic(state_dir / STATE_FILE, state.model_dump(mode="json"))


def read_results(state_dir: Path) -> tuple[dict[str, KataResult], str | None]:
    """The learner's last results per kata (`.dojo/results.json`), and when that grading finished."""
    try:
        document: Any = json.loads((state_dir / RESULTS_FILE).read_text(encoding="utf-8"))
        return parse_results(document), document.get("finished_at")
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        # missing, or not what the plugin writes: as if nothing had been graded; the next grading rewrites it
        return {}, None


def forget_result(state_dir: Path, slug: str) -> None:
    """Drop a kata's last result (after a reset, the old result no longer describes the files)."""
    path = state_dir / RESULTS_FILE
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        katas = document["katas"]
    except (OSError, ValueError, TypeError, KeyError):
        return
    if isinstance(katas, dict) and slug in katas:
        del katas[slug]
        write_json_atomic(path, document)
