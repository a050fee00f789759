"""Kata trees for the integrity tests: the starter as shipped, the solutions, and decoys."""

from pathlib import Path

from dojo import trees


def starter_tree(destination: Path) -> Path:
    """The starter as shipped (`dojo.trees`): a learner's edits in `katas/` must not change the project's tests."""
    return trees.starter_tree(destination)


def patched_tree(slug: str, diff: Path, destination: Path) -> Path:
    """The reference solution of `slug` with a diff (a decoy or an alternative) applied to it."""
    return trees.patched_tree(slug, diff, destination)


def kata_files(root: Path) -> set[str]:
    return {
        str(path.relative_to(root))
        for path in root.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }
