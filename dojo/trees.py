"""The starter as shipped: the one owner of what a kata's files were before the learner touched them.

Shipped contents come from the commit the clone is at (`HEAD`); a kata that is not committed yet (being
written) and a copy without git come from the working tree.
"""

import difflib
import io
import subprocess
import tarfile

from dojo import paths
from dojo.manifest import kata_by_slug


def shipped_files(slug: str) -> dict[str, bytes]:
    """Every file of the kata's starter as shipped, by path relative to `katas/<slug>/`."""
    folder = paths.KATAS / slug
    files = {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }
    archived = subprocess.run(  # noqa: S603 - git, with a slug from the manifest
        ["git", "archive", "--format=tar", "HEAD", "--", f"katas/{slug}"],  # noqa: S607
        cwd=paths.REPO,
        capture_output=True,
        check=False,
    )
    if archived.returncode != 0:
        return files
    committed: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(archived.stdout)) as tar:
        for member in tar.getmembers():
            extracted = tar.extractfile(member) if member.isfile() else None
            if extracted is not None:
                committed[member.name.removeprefix(f"katas/{slug}/")] = extracted.read()
    return committed or files


def lesson_diff(slug: str) -> str:
    """The lesson: a unified diff from the shipped starter to the solution, for the files the kata edits."""
    shipped = shipped_files(slug)
    chunks: list[str] = []
    for name in sorted(kata_by_slug()[slug].files):
        before = shipped.get(name, b"").decode("utf-8").splitlines(keepends=True)
        after = (paths.SOLUTIONS / slug / name).read_text(encoding="utf-8").splitlines(keepends=True)
        chunks.extend(difflib.unified_diff(before, after, f"katas/{slug}/{name}", f"solutions/{slug}/{name}"))
    return "".join(chunks)
