"""Run the graders in a separate pytest process and read back their results.

Each kata tree needs a process of its own (the app labels are the kata slugs in every tree), so the
project's integrity tests and `uv run dojo` grade through here. A grading that runs out of time is
returned as one whose katas are broken, with a message that says so: `grade()` never raises for it.
"""

import gc
import importlib
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dojo import isolation, paths, results
from dojo.manifest import load_katas
from dojo.results import KataResult, KataStatus, TestResult

__all__ = ["Grading", "KataResult", "KataStatus", "TestResult", "WarmPytest", "grade", "parse_results"]


@dataclass(frozen=True)
class Grading:
    """The result of one grading run: per kata, plus the process's exit code and output."""

    exit_code: int
    output: str
    katas: dict[str, KataResult] = field(default_factory=dict)


#: The exit code of a grading that was stopped because it ran out of time (as `timeout(1)` uses).
TIMED_OUT = 124


def parse_results(document: dict[str, Any]) -> dict[str, KataResult]:
    """The per-kata results of a report the plugin wrote (`--dojo-report`, `.dojo/results.json`)."""
    return results.parse_katas(document)


def _graded_slugs(targets: list[str]) -> list[str]:
    """The katas that `targets` name (`katas`: every kata), for a grading that produced no results."""
    slugs: list[str] = []
    known = [kata.slug for kata in load_katas()]
    for target in targets:
        parts = Path(target.split("::", 1)[0]).parts
        if parts and parts[0] in ("katas", "solutions", "graders"):
            if len(parts) == 1:
                return known
            if parts[1] in known and parts[1] not in slugs:
                slugs.append(parts[1])
    return slugs


def timed_out(targets: list[str], seconds: float, output: str) -> Grading:
    """A grading stopped after `seconds`: every kata it was grading is broken, and says so."""
    message = (
        f"The grading timed out: it was stopped after {seconds:g} s without finishing. "
        "Look for code that loops or waits for ever, then grade again."
    )
    katas = {
        slug: KataResult(
            slug=slug,
            status=KataStatus.BROKEN,
            tests=(
                TestResult(
                    test="kata_loads",
                    outcome="failed",
                    rule=None,
                    message=message,
                    broken=True,
                    title="The kata can be graded",
                ),
            ),
            notes=(message,),
        )
        for slug in _graded_slugs(targets)
    }
    return Grading(exit_code=TIMED_OUT, output=f"{output}\n{message}".strip(), katas=katas)


def _process_env(env: dict[str, str] | None) -> dict[str, str]:
    process_env = {**os.environ, **(env or {})}
    process_env.pop("PYTEST_ADDOPTS", None)
    return process_env


def grade(
    targets: list[str],
    *,
    kata_root: Path | None = None,
    extra_args: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
    timeout: float = 600,
    cwd: Path | None = None,
    warm: "WarmPytest | None" = None,
) -> Grading:
    """Grade `targets` (e.g. `["katas"]`, `["katas/n_plus_one"]`) in a new pytest process.

    `cwd` is the repository to grade in (this one by default): `uv run dojo` passes the clone it runs in.
    `warm` is a process started earlier with its own directory and environment (`dojo watch`).
    """
    with tempfile.TemporaryDirectory(prefix="dojo-report-") as scratch:
        report = Path(scratch) / "results.json"
        args = [*targets, "--dojo-report", str(report), "-p", "no:cacheprovider"]
        if kata_root is not None:
            args += ["--kata-root", str(kata_root)]
        args += list(extra_args)
        try:
            if warm is not None and warm.ready():
                completed = warm.run(args, timeout=timeout)
            else:
                completed = subprocess.run(  # noqa: S603 - our own interpreter running pytest
                    [sys.executable, "-m", "pytest", *args],
                    cwd=cwd or paths.REPO,
                    env=_process_env(env),
                    capture_output=True,
                    text=True,
                    timeout=timeout,
                    check=False,
                )
        except subprocess.TimeoutExpired as expired:
            return timed_out(targets, timeout, _text(expired.stdout) + _text(expired.stderr))
        output = completed.stdout + completed.stderr
        document = results.read(report)
        katas = document.katas if document is not None else {}
    return Grading(exit_code=completed.returncode, output=output, katas=katas)


def _text(data: str | bytes | None) -> str:
    if isinstance(data, bytes):
        return data.decode("utf-8", "replace")
    return data or ""


# Imported ahead of time by a warm process: libraries only. Never the kata code, the settings (which
# look at the kata folders) or our own plugin (pytest must import it itself to rewrite its asserts).
WARM_MODULES = (
    "pytest",
    "_pytest.assertion.rewrite",
    "_pytest.debugging",
    "_pytest.fixtures",
    "_pytest.junitxml",
    "_pytest.python",
    "_pytest.terminal",
    "django",
    "django.core.management",
    "django.db.models",
    "django.test.runner",
    "dj_database_url",
    # pytest plugins of the libraries (their own asserts go unrewritten: ALREADY_IMPORTED below)
    "pytest_django.plugin",
    "pytest_timeout",
    "pytest_codeblocks.plugin",
    "platformdirs.pytest_plugin",
    "dojo.manifest",
    "dojo.problems",
    "dojo.results",
    "dojo.rules",
    # ninja reads the settings when imported: the grading parent imports it (dojo.isolation.warm_up)
    *(name for name in isolation.LIBRARIES if not name.startswith("ninja")),
)


#: Modules a warm process must leave to pytest: the kata settings (they look at the tree to grade)
#: and our plugin, whose asserts pytest rewrites.
NOT_TO_IMPORT_EARLY = frozenset({"dojo.settings", "dojo.kata_apps", "dojo.pytest_plugin"})
# Libraries that ship a pytest plugin (pytest-django, pytest-timeout, faker, respx, time-machine...) are imported
# ahead of time on purpose: pytest would warn that it can no longer rewrite their asserts, which only
# matters for assertions inside those plugins. This warning alone is let through.
ALREADY_IMPORTED = "ignore:Module already imported so cannot be rewritten:pytest.PytestAssertRewriteWarning"


class WarmPytest:
    """A pytest process started ahead of time: its libraries imported, it waits for what to grade.

    `dojo watch` keeps one ready, so that the grading after a save does not wait for Python to start
    and import pytest and Django. The process grades once, exactly as `python -m pytest` would.
    """

    def __init__(self, *, cwd: Path | None = None, env: dict[str, str] | None = None) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "dojo.runner"],
            cwd=cwd or paths.REPO,
            env=_process_env(env),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def ready(self) -> bool:
        return self._process.poll() is None

    def run(self, args: list[str], *, timeout: float) -> subprocess.CompletedProcess[str]:
        try:
            stdout, stderr = self._process.communicate(json.dumps(args) + "\n", timeout=timeout)
        except subprocess.TimeoutExpired:
            self.close()
            raise
        return subprocess.CompletedProcess(args, self._process.returncode, stdout, stderr)

    def close(self) -> None:
        """Stop the process if it has not graded (and so not ended)."""
        if self._process.poll() is None:
            self._process.kill()
            self._process.communicate()


def _warm_process() -> int:
    """`python -m dojo.runner`: import the libraries, wait for pytest's arguments on stdin, grade."""
    for name in WARM_MODULES:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: S112 - only a head start: pytest imports what it needs anyway
            continue
    try:  # the manifest and the rules are read once, here: graders and rules are not the learner's to edit
        from dojo.manifest import load_katas
        from dojo.rules import load_rules

        load_katas()
        load_rules()
    except Exception:  # noqa: S110 - a broken manifest is for the grading to report, in its own words
        pass
    clean = not (NOT_TO_IMPORT_EARLY & set(sys.modules))
    gc.freeze()  # what was imported so far stays: pytest's garbage collections need not walk it again
    line = sys.stdin.readline()
    if not line:
        return 0
    args = [str(arg) for arg in json.loads(line)] + ["-W", ALREADY_IMPORTED]
    if not clean:  # a library imported a plugin early: grade in a fresh interpreter instead
        os.execv(sys.executable, [sys.executable, "-m", "pytest", *args])  # noqa: S606
    import pytest

    return int(pytest.main(args))


if __name__ == "__main__":
    sys.exit(_warm_process())
