"""The project keeps the standard it teaches: ruff-formatted, ruff-clean, and strictly typed."""

import subprocess
import sys

import pytest

from dojo import paths


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *command], cwd=paths.REPO, capture_output=True, text=True, check=False)


@pytest.mark.parametrize("command", [("ruff", "check", "."), ("ruff", "format", "--check", ".")])
def test_ruff_is_clean(command: tuple[str, ...]) -> None:
    completed = run(*command)
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_mypy_strict_is_clean_on_the_harness_the_solutions_the_graders_and_the_tests() -> None:
    completed = run("mypy")
    assert completed.returncode == 0, completed.stdout + completed.stderr
