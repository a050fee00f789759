"""Backups of a learner's kata folder, taken before anything replaces it (`dojo reset`, `dojo restore`).

A backup is a plain copy of `katas/<slug>/` in `.dojo/backups/<UTC time>-<slug>/` (modes, links and
empty folders kept): readable and restorable by hand too. Backups are never deleted by `dojo`.

Only folders named `<time>-[<n>-]<slug>` for a kata of the manifest are backups, and a restore writes
into that kata's folder and nowhere else. Whatever stands at `katas/<slug>` (a folder, a file, a link)
is backed up before it is replaced; a link is removed, never what it points to.
"""

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from dojo import paths, trees
from dojo.manifest import load_katas

TIME_FORMAT = "%Y%m%dT%H%M%SZ"
CACHES = shutil.ignore_patterns("__pycache__", "*.pyc")


class RestoreError(Exception):
    """The starter or the backup cannot be restored; the message says why and what to do."""


@dataclass(frozen=True)
class Backup:
    name: str
    slug: str
    created_at: datetime
    path: Path
    number: int = 1  # several backups of a kata in one second

    @property
    def files(self) -> list[str]:
        return trees.working_files(self.path)


def _slugs() -> set[str]:
    return {kata.slug for kata in load_katas(paths.repo().manifest)}


def _parse(path: Path, slugs: set[str]) -> Backup | None:
    stamp, _, rest = path.name.partition("-")
    number, _, slug = rest.rpartition("-")
    if slug not in slugs:  # `…-.`, `…-..`, a kata since removed, anything else
        return None
    try:
        created = datetime.strptime(stamp, TIME_FORMAT).replace(tzinfo=UTC)
        count = int(number) if number else 1
    except ValueError:
        return None
    return Backup(name=path.name, slug=slug, created_at=created, path=path, number=count)


def list_backups(slug: str | None = None) -> list[Backup]:
    """Every backup, oldest first (optionally only those of one kata)."""
    folder = paths.repo().backups
    if not folder.is_dir():
        return []
    slugs = _slugs()
    found = [
        backup
        for path in folder.iterdir()
        if path.is_dir() and not path.is_symlink() and (backup := _parse(path, slugs)) is not None
    ]
    found.sort(key=lambda backup: (backup.created_at, backup.number, backup.name))
    return [backup for backup in found if slug is None or backup.slug == slug]


def _kata_folder(slug: str) -> Path:
    """`katas/<slug>`, for a kata of the manifest only: the one place a reset or a restore writes."""
    if slug not in _slugs():
        raise RestoreError(f"There is no kata named {slug!r}.")
    folder = paths.repo().kata(slug)
    if folder.parent != paths.repo().katas or folder.name != slug:
        raise RestoreError(f"{slug!r} is not a kata folder.")
    return folder


def _something_there(source: Path) -> bool:
    if source.is_symlink() or source.is_file():
        return True
    return source.is_dir() and any(True for _ in source.iterdir())


def _copy_into(source: Path, target: Path) -> None:
    """Copy whatever stands at `source` into the new folder `target`."""
    if source.is_dir():  # a folder, or a link to one: what the learner sees there
        shutil.copytree(source, target, symlinks=True, ignore=CACHES)
        return
    target.mkdir(parents=True)
    if source.is_symlink() and not source.exists():  # a broken link: kept as a link
        os.symlink(os.readlink(source), target / source.name)
    else:
        shutil.copy2(source, target / source.name)


def back_up(slug: str) -> Backup | None:
    """Copy what is at `katas/<slug>` into a new backup; None when there is nothing to keep."""
    source = _kata_folder(slug)
    if not _something_there(source):
        return None
    created = datetime.now(UTC).replace(microsecond=0)
    stamp = created.strftime(TIME_FORMAT)
    folder = paths.repo().backups
    target = folder / f"{stamp}-{slug}"
    number = 1
    while target.exists():
        number += 1
        target = folder / f"{stamp}-{number}-{slug}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        _copy_into(source, target)
    except OSError as error:
        shutil.rmtree(target, ignore_errors=True)
        raise RestoreError(
            f"Your files could not be backed up into {paths.repo().shown(folder)}/ ({error.strerror or error}), "
            f"so nothing was changed. Make .dojo/ a folder you can write to, then try again."
        ) from None
    return Backup(name=target.name, slug=slug, created_at=created, path=target, number=number)


def _remove(path: Path) -> None:
    """Remove what stands at `path`: a folder with its content, a file, or a link (not its target)."""
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)


@contextmanager
def _staging(slug: str) -> Iterator[Path]:
    """A fresh folder inside `.dojo/` (so on the same disk as `katas/`), removed afterwards if still there."""
    scratch = paths.repo().state / "tmp"
    try:
        scratch.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise RestoreError(
            f"{paths.repo().shown(scratch)}/ cannot be created ({error.strerror or error}), so nothing was changed. "
            "Make .dojo/ a folder you can write to, then try again."
        ) from None
    staged = scratch / f"{slug}-{uuid.uuid4().hex[:8]}"
    try:
        yield staged
    finally:
        if staged.exists() or staged.is_symlink():
            _remove(staged)


def _replace(slug: str, fill: Callable[[Path], None]) -> Backup | None:
    """Back up `katas/<slug>`, then swap in a folder that `fill` wrote. Returns the backup."""
    folder = _kata_folder(slug)
    with _staging(slug) as staged:
        try:
            fill(staged)  # before touching anything: a failure leaves the learner's files as they are
            staged.mkdir(exist_ok=True)
        except OSError as error:
            raise RestoreError(
                f"The files could not be prepared in .dojo/tmp/ ({error.strerror or error}), so nothing was changed."
            ) from None
        backup = back_up(slug)
        try:
            _remove(folder)
            shutil.move(staged, folder)
        except OSError as error:
            kept = f" Your files are kept in {paths.repo().shown(backup.path)}/." if backup else ""
            raise RestoreError(f"katas/{slug} could not be replaced ({error.strerror or error}).{kept}") from None
    return backup


def reset(slug: str) -> Backup | None:
    """Back up the learner's folder, then put the starter back exactly as shipped. Returns the backup."""

    def fill(staged: Path) -> None:
        try:
            trees.write_starter(slug, staged)
        except trees.StarterError as error:
            raise RestoreError(str(error)) from None

    return _replace(slug, fill)


def restore(backup: Backup) -> Backup | None:
    """Put a backup's files back in `katas/<slug>/`, after backing up what is there now."""
    if not backup.path.is_dir() or not _something_there(backup.path):
        raise RestoreError(f"The backup {backup.name} holds no files.")

    def fill(staged: Path) -> None:
        shutil.copytree(backup.path, staged, symlinks=True, ignore=CACHES)

    return _replace(backup.slug, fill)
