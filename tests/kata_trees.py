"""Kata trees for the integrity tests: the starter as shipped, the solutions, and decoys."""

import shutil
import subprocess
from pathlib import Path

from dojo import paths, trees


def starter_tree(destination: Path) -> Path:
    """The starter as shipped (`dojo.trees`): a learner's edits in `katas/` must not change the project's tests."""
    return trees.starter_tree(destination)


def patched_tree(slug: str, diff: Path, destination: Path) -> Path:
    """The reference solution of `slug` with a diff (a decoy or an alternative) applied to it."""
    target = destination / slug
    shutil.copytree(paths.SOLUTIONS / slug, target, ignore=shutil.ignore_patterns("__pycache__"))
    applied = subprocess.run(
        ["git", "apply", "--whitespace=nowarn", str(diff)],
        cwd=target,
        capture_output=True,
        text=True,
        check=False,
    )
    if applied.returncode != 0:
        raise RuntimeError(f"{diff.relative_to(paths.REPO)} no longer applies to the solution:\n{applied.stderr}")
    return destination


def kata_files(root: Path) -> set[str]:
    return {
        str(path.relative_to(root))
        for path in root.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }
