"""Run the graders in a separate pytest process and read back their results.

Each kata tree needs a process of its own (the app labels are the kata slugs in every tree), so the
project's integrity tests and `uv run dojo` grade through here.
"""

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dojo import paths


@dataclass(frozen=True)
class TestResult:
    """One grader test's outcome, as the plugin reported it."""

    test: str
    outcome: str
    rule: str | None
    message: str
    broken: bool


@dataclass(frozen=True)
class KataResult:
    slug: str
    status: str
    tests: tuple[TestResult, ...]

    def outcome_of(self, test: str) -> str | None:
        outcomes = [r.outcome for r in self.tests if r.test == test or r.test.startswith(test + "[")]
        if not outcomes:
            return None
        return "failed" if "failed" in outcomes else outcomes[0]


@dataclass(frozen=True)
class Grading:
    """The result of one grading run: per kata, plus the process's exit code and output."""

    exit_code: int
    output: str
    katas: dict[str, KataResult] = field(default_factory=dict)


def _parse(document: dict[str, Any]) -> dict[str, KataResult]:
    katas = {}
    for slug, entry in document.get("katas", {}).items():
        tests = tuple(TestResult(**test) for test in entry["tests"])
        katas[slug] = KataResult(slug=slug, status=entry["status"], tests=tests)
    return katas


def grade(
    targets: list[str],
    *,
    kata_root: Path | None = None,
    extra_args: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
    timeout: float = 600,
) -> Grading:
    """Grade `targets` (e.g. `["katas"]`, `["katas/n_plus_one"]`) in a new pytest process."""
    with tempfile.TemporaryDirectory(prefix="dojo-report-") as scratch:
        report = Path(scratch) / "results.json"
        command = [sys.executable, "-m", "pytest", *targets, "--dojo-report", str(report), "-p", "no:cacheprovider"]
        if kata_root is not None:
            command += ["--kata-root", str(kata_root)]
        command += list(extra_args)
        process_env = {**os.environ, **(env or {})}
        process_env.pop("PYTEST_ADDOPTS", None)
        completed = subprocess.run(  # noqa: S603 - our own interpreter running pytest
            command,
            cwd=paths.REPO,
            env=process_env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        output = completed.stdout + completed.stderr
        katas = _parse(json.loads(report.read_text(encoding="utf-8"))) if report.exists() else {}
    return Grading(exit_code=completed.returncode, output=output, katas=katas)
