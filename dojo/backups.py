"""Backups of a learner's kata folder, taken before anything replaces it (`dojo reset`, `dojo restore`).

A backup is a plain copy of `katas/<slug>/` in `.dojo/backups/<UTC time>-<slug>/`: readable and
restorable by hand too. Backups are never deleted by `dojo`.
"""

import shutil
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from dojo.progress import kata_files

TIME_FORMAT = "%Y%m%dT%H%M%SZ"


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
        return kata_files(self.path)


def backups_dir(root: Path) -> Path:
    return root / ".dojo" / "backups"


def _parse(path: Path) -> Backup | None:
    stamp, _, rest = path.name.partition("-")
    number, _, slug = rest.rpartition("-")
    try:
        created = datetime.strptime(stamp, TIME_FORMAT).replace(tzinfo=UTC)
        count = int(number) if number else 1
    except ValueError:
        return None
    return Backup(name=path.name, slug=slug, created_at=created, path=path, number=count) if slug else None


def list_backups(root: Path, slug: str | None = None) -> list[Backup]:
    """Every backup, oldest first (optionally only those of one kata)."""
    folder = backups_dir(root)
    if not folder.is_dir():
        return []
    found = [backup for path in folder.iterdir() if path.is_dir() and (backup := _parse(path)) is not None]
    found.sort(key=lambda backup: (backup.created_at, backup.number, backup.name))
    return [backup for backup in found if slug is None or backup.slug == slug]


def back_up(root: Path, slug: str) -> Backup | None:
    """Copy `katas/<slug>/` into a new backup; None when there is no file to keep."""
    source = root / "katas" / slug
    if not kata_files(source):
        return None
    created = datetime.now(UTC).replace(microsecond=0)
    stamp = created.strftime(TIME_FORMAT)
    folder = backups_dir(root)
    target = folder / f"{stamp}-{slug}"
    number = 1
    while target.exists():
        number += 1
        target = folder / f"{stamp}-{number}-{slug}"
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return Backup(name=target.name, slug=slug, created_at=created, path=target, number=number)


def starter_files(root: Path, slug: str) -> dict[str, bytes]:
    """The kata's files as shipped: git's last commit (HEAD) of `katas/<slug>/`."""
    try:
        listed = subprocess.run(  # noqa: S603 - git, with a slug from the manifest
            ["git", "ls-tree", "-r", "-z", "--name-only", "HEAD", "--", f"katas/{slug}/"],  # noqa: S607
            cwd=root,
            capture_output=True,
            check=False,
        )
    except OSError as error:
        raise RestoreError(f"git is needed to restore the starter, and it could not run: {error}") from None
    names = [name for name in listed.stdout.decode().split("\0") if name]
    if listed.returncode != 0 or not names:
        raise RestoreError(
            f"git has no committed starter for katas/{slug}/ (is this a git clone of the dojo?). "
            f"Your files are untouched."
        )
    files = {}
    for name in names:
        shown = subprocess.run(  # noqa: S603 - git, with a path git listed
            ["git", "show", f"HEAD:{name}"],  # noqa: S607
            cwd=root,
            capture_output=True,
            check=False,
        )
        if shown.returncode != 0:
            raise RestoreError(f"git could not read {name} from HEAD: {shown.stderr.decode().strip()}")
        files[str(Path(name).relative_to(f"katas/{slug}"))] = shown.stdout
    return files


def _replace_folder(folder: Path, files: dict[str, bytes]) -> None:
    if folder.exists():
        shutil.rmtree(folder)
    for name, content in files.items():
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)


def reset(root: Path, slug: str) -> Backup | None:
    """Back up the learner's folder, then put the starter back exactly as shipped. Returns the backup."""
    starter = starter_files(root, slug)  # before touching anything: fail with the files untouched
    backup = back_up(root, slug)
    _replace_folder(root / "katas" / slug, starter)
    return backup


def restore(root: Path, backup: Backup) -> Backup | None:
    """Put a backup's files back in `katas/<slug>/`, after backing up what is there now."""
    files = {name: (backup.path / name).read_bytes() for name in backup.files}
    if not files:
        raise RestoreError(f"The backup {backup.name} holds no files.")
    current = back_up(root, backup.slug)
    _replace_folder(root / "katas" / backup.slug, files)
    return current
