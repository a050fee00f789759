"""Writing into `.dojo/`: atomic JSON documents, the time they record, and the error a write gives.

Kept apart from `dojo.state` (which validates the learner's state with pydantic), so that a grading,
which only writes its results, starts without importing pydantic.
"""

import errno
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
    """The message for a write into `.dojo` that failed, with the fix for its cause (never a wrong one)."""
    folder = path.parent
    reason = error.strerror or str(error)
    head = f"Could not write {folder.name}/{path.name} ({reason}): your progress is not saved. "
    if error.errno in (errno.EACCES, errno.EPERM):
        fix = f"{folder} must be a folder you can write to (e.g. `chmod u+w {folder.name}`); "
    elif error.errno == errno.EROFS:
        fix = f"{folder} is on a read-only file system: grade in a clone on a disk you can write to; "
    elif error.errno in (errno.ENOSPC, errno.EDQUOT):
        fix = "the disk (or your quota) is full: free some space, then grade again; "
    elif error.errno in (errno.ENOTDIR, errno.EEXIST) and not folder.is_dir():
        fix = f"{folder} is not a folder: move that file away, then grade again; "
    else:
        fix = ""
    return StateError(head + fix + "nothing else was changed.")


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
