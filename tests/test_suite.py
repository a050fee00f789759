"""The project's own test command: the heavy suites only with --heavy, and only the gradings the selection needs."""

import subprocess
import sys
from dataclasses import dataclass, field
from typing import Any

import pytest

from dojo import paths
from dojo.manifest import kata_by_slug

from .conftest import _needed


@dataclass
class Selected:
    """What `_needed` reads of a collected test."""

    originalname: str
    params: dict[str, Any] = field(default_factory=dict)
    fixturenames: tuple[str, ...] = ("gradings",)
    skipped: bool = False  # marked skip at collection (a PostgreSQL-only decoy on SQLite)

    @property
    def name(self) -> str:
        return self.originalname

    def get_closest_marker(self, name: str) -> object | None:
        return pytest.mark.skip if name == "skip" and self.skipped else None

    @property
    def callspec(self) -> "Selected":
        return self


def test_only_the_trees_and_decoys_that_the_selected_tests_judge_are_graded() -> None:
    n_plus_one = kata_by_slug()["n_plus_one"]
    decoy, skipped_decoy = list(n_plus_one.decoys)[:2]
    selected = [
        Selected("test_starter_fails_its_lessons_and_nothing_else", {"kata": n_plus_one}),
        Selected("test_grader_rejects_decoy", {"kata": n_plus_one, "decoy": decoy}),
        Selected("test_grader_rejects_decoy", {"kata": n_plus_one, "decoy": skipped_decoy}, skipped=True),
        Selected("test_every_kata_folder_is_in_the_manifest", fixturenames=()),
    ]
    trees, wanted = _needed(selected)  # type: ignore[arg-type]
    assert trees == {"starter"}
    assert wanted == {"decoy": {("n_plus_one", decoy)}, "alternative": set()}


def test_the_heavy_suites_are_left_out_unless_asked_for() -> None:
    def collected(*args: str) -> str:
        command = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *args]
        return subprocess.run(command, cwd=paths.REPO, capture_output=True, text=True, check=False).stdout

    default = collected("tests")
    assert "test_grader_rejects_decoy" not in default
    assert all(f"tests/{module}" not in default for module in ("test_mutate.py", "test_browser.py", "test_fuzz.py"))
    assert "test_solution_passes_every_check" in default
    heavy = collected("tests/test_katas.py", "--heavy")
    assert "test_grader_rejects_decoy" in heavy
