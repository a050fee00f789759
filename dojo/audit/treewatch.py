"""What the project's tests wrote into its tree: a listing before `--tests` and after, ignored files included.

Only what a test run makes anyway is left out: bytecode caches and pytest's own cache. Special files
(pipes, sockets, devices) are listed by their kind, never opened; the listing stops at MAX_ENTRIES.
"""

import os
import stat
from pathlib import Path

ALLOWED = frozenset({"__pycache__", ".pytest_cache", ".git", ".hg", ".mypy_cache", ".ruff_cache"})
MAX_ENTRIES = 200_000
SHOWN = 10  # paths named per change in the report; the rest are counted

Entry = tuple[int, int, int]  # the file's kind, size and modification time (ns)


def snapshot(root: Path) -> dict[str, Entry]:
    """Every path under `root` with its kind, size and mtime, without following links."""
    found: dict[str, Entry] = {}
    for folder, dirs, names in os.walk(root, followlinks=False):
        dirs[:] = [name for name in dirs if name not in ALLOWED]
        for name in [*dirs, *names]:
            if name.endswith(".pyc"):
                continue
            path = os.path.join(folder, name)
            try:
                info = os.lstat(path)
            except OSError:
                continue
            found[os.path.relpath(path, root)] = (stat.S_IFMT(info.st_mode), info.st_size, info.st_mtime_ns)
            if len(found) >= MAX_ENTRIES:
                return found
    return found


def changes(before: dict[str, Entry], after: dict[str, Entry]) -> list[str]:
    """Sentences for what changed: created, changed and deleted paths, grouped by their top folder."""
    created = sorted(set(after) - set(before))
    deleted = sorted(set(before) - set(after))
    changed = sorted(
        path for path in set(before) & set(after) if before[path] != after[path] and not stat.S_ISDIR(after[path][0])
    )
    out = []
    for verb, paths in (("created", created), ("changed", changed), ("deleted", deleted)):
        files = [path for path in paths if not stat.S_ISDIR((after if verb != "deleted" else before)[path][0])]
        if not files:
            continue
        by_top: dict[str, list[str]] = {}
        for path in files:
            by_top.setdefault(path.split(os.sep, 1)[0], []).append(path)
        for top, group in sorted(by_top.items(), key=lambda item: -len(item[1])):
            names = ", ".join(group[:SHOWN]) + (f", and {len(group) - SHOWN} more" if len(group) > SHOWN else "")
            count = len(group)
            out.append(f"{count} file{'s' * (count != 1)} {verb} under {top}: {names}")
    return out
