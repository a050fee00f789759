"""What the project's tests may not change: every file of the checkout, but for a short list of caches.

The session takes a snapshot of the checkout when it starts and compares it when it ends (`conftest.py`):
a test that wrote into `katas/`, `graders/`, the learner's `.dojo/` or anywhere else in the clone
fails the run, and the run names the files. The learner's state is moved to a temporary folder for
the whole session (`DOJO_STATE`), so a grading of the real `katas/` writes its results there.
"""

import os
from pathlib import Path

#: Written by the tools themselves, never read as the learner's work: the only writes allowed.
CACHES = (
    "__pycache__",  # bytecode, anywhere (never inside the kata trees: `dojo.bytecode`)
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    ".dojo/browser-cache",  # the in-browser runner's downloads, checked against browser.lock.json
    "docs/.build",  # the sources MkDocs builds from, assembled by every build of the site
    "artifacts",  # the screenshots the browser tests take, to be looked at (git-ignored)
)
#: Not the checkout's files: the environment and git's own records.
OUTSIDE = (".venv", ".git")

Snapshot = dict[str, tuple[int, int, int]]  # path -> size, modification time, mode


def _left_out(relative: str) -> bool:
    parts = relative.split("/")
    if parts[0] in OUTSIDE or "__pycache__" in parts or ".ruff_cache" in parts:  # ruff caches per config folder
        return True
    return any(relative == cache or relative.startswith(cache + "/") for cache in CACHES)


def _holds_a_cache(relative: str) -> bool:
    """A folder made only to hold a cache (`.dojo/` of a fresh clone, for `.dojo/browser-cache`)."""
    return any(cache.startswith(relative + "/") for cache in CACHES)


def snapshot(root: Path) -> Snapshot:
    """Every file and folder under `root` with its size, modification time and mode (caches left out)."""
    found: Snapshot = {}
    for folder, dirs, files in os.walk(root):
        base = Path(folder).relative_to(root).as_posix()
        prefix = "" if base == "." else base + "/"
        dirs[:] = [name for name in dirs if not _left_out(prefix + name)]
        for name in [*dirs, *files]:
            relative = prefix + name
            if _left_out(relative) or (name in dirs and _holds_a_cache(relative)):
                continue  # the folder is still walked: a file of its own, not a cache, is recorded
            try:
                stat = os.lstat(Path(folder, name))
            except OSError:
                continue
            size = 0 if name in dirs else stat.st_size
            mtime = 0 if name in dirs else stat.st_mtime_ns  # a folder's time changes with any file in it
            found[relative] = (size, mtime, stat.st_mode)
    return found


def changes(before: Snapshot, after: Snapshot) -> list[str]:
    """What differs between two snapshots, one line a path: added, removed or changed."""
    lines = [f"added   {path}" for path in sorted(after.keys() - before.keys())]
    lines += [f"removed {path}" for path in sorted(before.keys() - after.keys())]
    lines += [f"changed {path}" for path in sorted(before.keys() & after.keys()) if before[path] != after[path]]
    return lines
