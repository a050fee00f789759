"""Writing into `.dojo/`: atomic JSON documents, the time they record, and the error a write gives.

Kept apart from `dojo.state` (which validates the learner's state with pydantic), so that a grading,
which only writes its results, starts without importing pydantic.
"""

import json
import os
import stat
import tempfile
from datetime import UTC, datetime
from pathlib import Path

__all__ = ["StateError", "cannot_write", "now", "write_json_atomic"]


class StateError(Exception):
    """`.dojo` cannot be written; the message names the folder, the reason and the fix."""


def now() -> str:
    """The current time as the state files write it: UTC, ISO 8601, to the second."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def cannot_write(path: Path, error: OSError) -> StateError:
    """The message for a write into `.dojo` that failed."""
    folder = path.parent
    reason = error.strerror or str(error)
    return StateError(
        f"Could not write {folder.name}/{path.name} ({reason}): your progress is not saved. "
        f"{folder} must be a folder you can write to (e.g. `chmod u+w {folder.name}`); "
        "nothing else was changed."
    )


def write_json_atomic(path: Path, document: object) -> None:
    """Write `document` as JSON to `path`: to a temporary file first, then swapped in with one rename.

    Raises `StateError` when the folder cannot be written."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            "w", encoding="utf-8", dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False
        ) as handle:
            json.dump(document, handle, indent=2)
            handle.write("\n")
        os.chmod(handle.name, stat.S_IMODE(path.stat().st_mode) if path.is_file() else 0o644)  # not the temp's 0600
        os.replace(handle.name, path)
    except OSError as error:
        raise cannot_write(path, error) from None
