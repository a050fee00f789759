"""The starter as shipped: the one owner of what `katas/<slug>/` held before the learner touched it.

Reset, `dojo solution`, the site's lesson diff and the project's integrity tests all ask here, never
git's HEAD (a learner may commit their work, which makes HEAD theirs) and never the working tree (which
holds the learner's edits).

What was shipped is written down in `katas.lock`, committed next to `katas/`: for every kata, every
file's git blob id (`sha1("blob <size>\\0" + content)`) and mode. A test keeps it in step with
`katas/`; contributors refresh it with `uv run python -m dojo.trees --write-lock`.

The content behind a blob id is looked for, in this order, and always checked against the id:

1. git's object store (`git cat-file`): present in any clone, whatever HEAD is now;
2. `.dojo/starters/<slug>/<file>`: a snapshot taken the first time any `dojo` command saw the file
   unchanged (`keep_snapshots`), which serves a download without git once the learner has edited;
3. the working file, when it is still unchanged.

When none of them holds it, `StarterError` says which files and how to get the starter back.
"""

import argparse
import difflib
import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from dojo import paths
from dojo.manifest import load_katas

LOCK_VERSION = 1
REGULAR, EXECUTABLE = "100644", "100755"
WRITE_LOCK = "uv run python -m dojo.trees --write-lock"
IGNORED_DIRS = frozenset({"__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache"})


class StarterError(Exception):
    """The starter of a kata cannot be read; the message says why and what to do."""


@dataclass(frozen=True)
class Entry:
    """One shipped file: its git blob id and mode."""

    blob: str
    mode: str = REGULAR

    @property
    def executable(self) -> bool:
        return self.mode == EXECUTABLE


# --- hashing and walking --------------------------------------------------------------------------


def blob_id(content: bytes) -> str:
    """The id git gives this content (`git hash-object`)."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content, usedforsecurity=False).hexdigest()


def mode_of(path: Path) -> str:
    return EXECUTABLE if path.stat().st_mode & stat.S_IXUSR else REGULAR


def working_files(folder: Path) -> list[str]:
    """The files of a kata folder (relative, sorted), leaving out caches and compiled files."""
    if not folder.is_dir():
        return []
    return sorted(
        path.relative_to(folder).as_posix()
        for path in folder.rglob("*")
        if path.is_file() and not IGNORED_DIRS & set(path.relative_to(folder).parts) and path.suffix != ".pyc"
    )


def _entries_of(folder: Path) -> dict[str, Entry]:
    return {
        name: Entry(blob_id((folder / name).read_bytes()), mode_of(folder / name)) for name in working_files(folder)
    }


# --- the lock -------------------------------------------------------------------------------------


_read: dict[Path, tuple[tuple[int, int], dict[str, dict[str, Entry]]]] = {}


def read_lock(lock: Path | None = None) -> dict[str, dict[str, Entry]]:
    """Every kata's shipped files, from `katas.lock` (read again when the file changes)."""
    path = lock or paths.repo().lock
    try:
        changed = (path.stat().st_mtime_ns, path.stat().st_size)
    except OSError:
        changed = (-1, -1)
    if path in _read and _read[path][0] == changed:
        return _read[path][1]
    found = _parse_lock(path)
    _read[path] = (changed, found)
    return found


def _parse_lock(path: Path) -> dict[str, dict[str, Entry]]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        return {
            slug: {name: Entry(blob=entry["blob"], mode=entry.get("mode", REGULAR)) for name, entry in files.items()}
            for slug, files in document["katas"].items()
        }
    except FileNotFoundError:
        raise StarterError(
            f"{paths.repo().shown(path)} is missing: it records the starters as shipped. "
            f"Get it from the dojo's repository again (contributors: {WRITE_LOCK})."
        ) from None
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as error:
        raise StarterError(
            f"{paths.repo().shown(path)} cannot be read ({error}); get it from the repository again."
        ) from None


def lock_document(katas: Path) -> dict[str, object]:
    """The lock of a `katas/` tree as it is on disk: what `--write-lock` writes."""
    folders = sorted(p for p in katas.iterdir() if p.is_dir() and p.name not in IGNORED_DIRS)
    return {
        "version": LOCK_VERSION,
        "about": f"The katas as shipped, as git blob ids: read by dojo/trees.py. Refresh: {WRITE_LOCK}",
        "katas": {
            folder.name: {name: {"blob": e.blob, "mode": e.mode} for name, e in _entries_of(folder).items()}
            for folder in folders
        },
    }


def write_lock() -> Path:
    """Write `katas.lock` from `katas/` as it is now (for contributors, after changing a starter)."""
    repo = paths.repo()
    text = json.dumps(lock_document(repo.katas), indent=2, sort_keys=True) + "\n"
    repo.lock.write_text(text, encoding="utf-8")
    return repo.lock


def _locked(slug: str) -> dict[str, Entry]:
    found = read_lock().get(slug)
    if found is None:
        raise StarterError(f"katas.lock has no starter for {slug!r} (contributors: {WRITE_LOCK}).")
    return found


# --- reading content by blob id -------------------------------------------------------------------


def _from_git(ids: Iterable[str]) -> dict[str, bytes]:
    """The blobs git's object store holds, checked against their ids; an empty dict without git."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    try:
        completed = subprocess.run(
            ["git", "cat-file", "--batch"],  # noqa: S607 - git from PATH, as the learner runs it
            cwd=paths.repo().root,
            input="".join(f"{blob}\n" for blob in wanted).encode(),
            capture_output=True,
            check=False,
            timeout=60,
        )
    except (OSError, subprocess.SubprocessError):
        return {}
    if completed.returncode != 0:
        return {}
    found: dict[str, bytes] = {}
    output, position = completed.stdout, 0
    while position < len(output):
        end = output.index(b"\n", position)
        header = output[position:end].split()
        position = end + 1
        if len(header) == 3 and header[1] == b"blob":
            size = int(header[2])
            content = output[position : position + size]
            position += size + 1
            if blob_id(content) == header[0].decode():
                found[header[0].decode()] = content
    return found


def _checked(path: Path, entry: Entry) -> bytes | None:
    try:
        content = path.read_bytes()
    except OSError:
        return None
    return content if blob_id(content) == entry.blob else None


def _snapshot(slug: str, name: str) -> Path:
    return paths.repo().starters / slug / name


def _shipped(slugs: Sequence[str]) -> dict[str, dict[str, tuple[bytes, Entry]]]:
    locked = {slug: _locked(slug) for slug in slugs}
    in_git = _from_git(entry.blob for files in locked.values() for entry in files.values())
    repo = paths.repo()
    found: dict[str, dict[str, tuple[bytes, Entry]]] = {}
    for slug, files in locked.items():
        found[slug] = {}
        lost = []
        for name, entry in files.items():
            content = in_git.get(entry.blob)
            if content is None:
                content = _checked(_snapshot(slug, name), entry)
            if content is None:
                content = _checked(repo.kata(slug) / name, entry)
            if content is None:
                lost.append(name)
            else:
                found[slug][name] = (content, entry)
        if lost:
            raise StarterError(
                f"The starter of katas/{slug}/ cannot be found for {', '.join(lost)}: "
                "git's objects do not hold it (is this a download without git?), no snapshot was kept in "
                f".dojo/starters/{slug}/, and your copy has changed. Your files are untouched. "
                f"To get the starter back, copy katas/{slug}/ from a fresh download or clone of the dojo."
            )
    return found


def shipped_files(slug: str) -> dict[str, bytes]:
    """Relative path inside the kata → content, as shipped."""
    return {name: content for name, (content, _entry) in _shipped([slug])[slug].items()}


def write_starter(slug: str, destination: Path) -> None:
    """Write the kata's starter into `destination` (created; its modes as shipped)."""
    for name, (content, entry) in _shipped([slug])[slug].items():
        _write(destination / name, content, entry)


def _write(target: Path, content: bytes, entry: Entry) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(content)
    os.chmod(target, 0o755 if entry.executable else 0o644)


def starter_tree(destination: Path) -> Path:
    """The whole `katas/` tree as shipped, written under `destination` (`destination/<slug>/…`)."""
    slugs = sorted(read_lock())
    for slug, files in _shipped(slugs).items():
        for name, (content, entry) in files.items():
            _write(destination / slug / name, content, entry)
    destination.mkdir(parents=True, exist_ok=True)
    return destination


def keep_snapshots() -> None:
    """Snapshot every still unchanged starter file into `.dojo/starters/` (so a download without git
    can reset once the learner has edited). Cheap when done already; never fails a command."""
    repo = paths.repo()
    try:
        locked = read_lock()
    except StarterError:
        return
    for slug, files in locked.items():
        for name, entry in files.items():
            snapshot = _snapshot(slug, name)
            if _checked(snapshot, entry) is not None:
                continue  # kept already (a snapshot of a starter changed since is written again)
            content = _checked(repo.kata(slug) / name, entry)
            if content is None:
                continue
            try:
                _write(snapshot, content, entry)
            except OSError:
                return  # `.dojo` cannot be written: the state module says so when it matters


# --- the learner's copy against the starter -------------------------------------------------------


def changed_files(slug: str) -> list[str]:
    """Shipped files the learner's copy still has, with other content."""
    folder = paths.repo().kata(slug)
    return sorted(
        name
        for name, entry in _locked(slug).items()
        if (folder / name).is_file() and _checked(folder / name, entry) is None
    )


def missing_files(slug: str) -> list[str]:
    """Shipped files that are gone from the learner's copy."""
    folder = paths.repo().kata(slug)
    return sorted(name for name in _locked(slug) if not (folder / name).is_file())


def extra_files(slug: str) -> list[str]:
    """Files in the learner's copy that were not shipped (caches left out)."""
    locked = _locked(slug)
    return [name for name in working_files(paths.repo().kata(slug)) if name not in locked]


# --- diffs ----------------------------------------------------------------------------------------


def _text(content: bytes | None) -> list[str]:
    return [] if content is None else content.decode("utf-8", errors="replace").splitlines(keepends=True)


def unified_diff(
    names: Iterable[str], before: Mapping[str, bytes], after: Mapping[str, bytes], labels: tuple[str, str]
) -> str:
    """A unified diff of the named files, `labels` being the two folders (`katas/x`, `solutions/x`).

    The one diff of the harness: the lesson and `dojo solution` are made by it.
    """
    chunks: list[str] = []
    for name in names:
        old, new = _text(before.get(name)), _text(after.get(name))
        for line in difflib.unified_diff(old, new, f"{labels[0]}/{name}", f"{labels[1]}/{name}"):
            chunks.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(chunks)


def _solution_files(slug: str, names: Iterable[str]) -> dict[str, bytes]:
    folder = paths.repo().solution(slug)
    return {name: (folder / name).read_bytes() for name in names if (folder / name).is_file()}


def _files_to_edit(slug: str) -> tuple[str, ...]:
    kata = next((k for k in load_katas(paths.repo().manifest) if k.slug == slug), None)
    if kata is None:
        raise StarterError(f"katas.toml has no kata {slug!r}.")
    return kata.files


def lesson_diff(slug: str) -> str:
    """The lesson: a unified diff from the starter as shipped to the solution, for the files to edit."""
    names = _files_to_edit(slug)
    return unified_diff(
        names, shipped_files(slug), _solution_files(slug, names), (f"katas/{slug}", f"solutions/{slug}")
    )


def learner_diff(slug: str) -> str:
    """From the learner's copy to the solution, for the files to edit (empty: they match)."""
    names = _files_to_edit(slug)
    folder = paths.repo().kata(slug)
    mine = {name: (folder / name).read_bytes() for name in names if (folder / name).is_file()}
    return unified_diff(names, mine, _solution_files(slug, names), (f"katas/{slug}", f"solutions/{slug}"))


# --- for contributors -----------------------------------------------------------------------------


class DiffDoesNotApplyError(RuntimeError):
    """A decoy, an alternative or a reviewer's diff that `git apply` refuses on the reference solution."""


def patched_tree(slug: str, diff: Path, destination: Path) -> Path:
    """The reference solution of `slug` with a diff (a decoy or an alternative) applied, in `destination/slug`."""
    target = destination / slug
    shutil.copytree(paths.SOLUTIONS / slug, target, ignore=shutil.ignore_patterns("__pycache__"))
    applied = subprocess.run(  # noqa: S603 - git, on our own diff
        ["git", "apply", "--whitespace=nowarn", str(diff)],  # noqa: S607 - git from the PATH, as every tool here
        cwd=target,
        capture_output=True,
        text=True,
        check=False,
    )
    if applied.returncode != 0:
        raise DiffDoesNotApplyError(f"{paths.shown(diff)} no longer applies to the solution:\n{applied.stderr}")
    return destination


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dojo.trees", description=__doc__.split("\n", 1)[0])
    parser.add_argument("--write-lock", action="store_true", help="write katas.lock from katas/ as it is now")
    args = parser.parse_args(argv)
    try:
        if args.write_lock:
            print(f"wrote {write_lock()}")
    except StarterError as error:
        print(error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
