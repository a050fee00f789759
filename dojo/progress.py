"""Where a learner stands: each kata's status from the last grading, with what `.dojo/state.json` remembers.

The same rows feed `uv run dojo list`, `dojo progress --json / --markdown` (what a workshop lead
collects) and the status boxes of the locally served site.
"""

import getpass
import subprocess
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from dojo import paths, trees
from dojo.manifest import Kata, load_katas
from dojo.results import KataStatus, TestResult
from dojo.rules import load_rules
from dojo.runner import KataResult
from dojo.state import State, load_state, read_results

Status = Literal["not started", "failing", "incomplete", "solved"]
REPORT_VERSION = 1


FAILED_OUTCOMES = frozenset({"failed", "error", "broken"})


@dataclass(frozen=True)
class Row:
    kata: Kata
    status: Status
    attempts: int
    hints_shown: int
    first_passed_at: str | None
    last_graded_at: str | None
    failures: tuple[TestResult, ...]  # the failing checks, as the grading recorded them
    missing_files: tuple[str, ...]

    @property
    def slug(self) -> str:
        return self.kata.slug


def status_of(result: KataResult | None) -> Status:
    """Solved only when the grading says every check passed; any other status (one this version does
    not know, "incomplete": not every check ran) is not a pass."""
    if result is None:
        return "not started"
    if result.status == KataStatus.SOLVED:
        return "solved"
    return "incomplete" if result.status == KataStatus.INCOMPLETE else "failing"


def failures_of(result: KataResult | None) -> tuple[TestResult, ...]:
    if result is None:
        return ()
    return tuple(test for test in result.tests if test.outcome in FAILED_OUTCOMES or test.broken)


def missing_files(kata: Kata) -> tuple[str, ...]:
    """Files of the starter that are gone from the learner's folder."""
    try:
        return tuple(trees.missing_files(kata.slug))
    except trees.StarterError:  # no record of the starter: at least the files to edit must be there
        folder = paths.repo().kata(kata.slug)
        return tuple(sorted(name for name in {*kata.files, "__init__.py"} if not (folder / name).is_file()))


def rows(state: State, results: dict[str, KataResult], finished_at: str | None) -> list[Row]:
    """One row per kata, in manifest order."""
    found = []
    for kata in load_katas(paths.repo().manifest):
        remembered = state.katas.get(kata.slug)
        result = results.get(kata.slug)
        status = status_of(result)
        first_pass = remembered.first_passed_at if remembered else None
        if first_pass is None and status == "solved":
            first_pass = finished_at  # graded with `pytest katas` directly: the time of that grading
        found.append(
            Row(
                kata=kata,
                status=status,
                attempts=remembered.attempts if remembered else 0,
                hints_shown=min(remembered.hints_shown, len(kata.hints)) if remembered else 0,
                first_passed_at=first_pass,
                last_graded_at=(remembered.last_graded_at if remembered else None) or (finished_at if result else None),
                failures=failures_of(result),
                missing_files=missing_files(kata),
            )
        )
    return found


def learner_name() -> str:
    """Who this report is from: git's user.name, else the login name."""
    try:
        completed = subprocess.run(
            ["git", "config", "user.name"],  # noqa: S607 - git from PATH, as the learner runs it
            cwd=paths.repo().root,
            capture_output=True,
            text=True,
            check=False,
            timeout=10,
        )
        if completed.returncode == 0 and completed.stdout.strip():
            return completed.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


def report(found: list[Row], *, learner: str, generated_at: str) -> dict[str, Any]:
    """The progress report a workshop lead collects (`dojo progress --json`)."""
    return {
        "version": REPORT_VERSION,
        "learner": learner,
        "generated_at": generated_at,
        "solved": sum(row.status == "solved" for row in found),
        "total": len(found),
        "katas": [
            {
                "kata": row.slug,
                "title": row.kata.title,
                "rules": list(row.kata.rules),
                "status": row.status,
                "attempts": row.attempts,
                "hints_used": row.hints_shown,
                "hints_total": len(row.kata.hints),
                "first_passed_at": row.first_passed_at,
                "last_graded_at": row.last_graded_at,
                "failing_rules": sorted({f.rule for f in row.failures if f.rule}),
            }
            for row in found
        ],
    }


def markdown(found: list[Row], *, learner: str, generated_at: str) -> str:
    """The same report as a Markdown table, to paste in an issue or a chat."""
    solved = sum(row.status == "solved" for row in found)
    lines = [
        f"## Dojo progress: {learner}",
        "",
        f"{solved} of {len(found)} katas solved · {generated_at}",
        "",
        "| # | Kata | Rules | Status | Attempts | Hints used | First passed |",
        "|---|------|-------|--------|----------|------------|--------------|",
    ]
    for number, row in enumerate(found, start=1):
        failing = sorted({f.rule for f in row.failures if f.rule})
        status = f"{row.status} ({', '.join(failing)})" if row.status == "failing" and failing else row.status
        lines.append(
            f"| {number} | `{row.slug}` | {', '.join(row.kata.rules)} | {status} | {row.attempts} | "
            f"{row.hints_shown} of {len(row.kata.hints)} | {row.first_passed_at or '—'} |"
        )
    return "\n".join(lines) + "\n"


def site_status(root: Path | None = None) -> dict[str, Any]:
    """What the locally served site shows: the report, plus the failing checks in the grader's words."""
    with paths.use_repo(root) if root is not None else nullcontext(paths.repo()) as repo:
        state, _notice = load_state(repo.state)
        results, finished_at = read_results(repo.state)
        found = rows(state, results, finished_at)
        learner = learner_name()
    rules = load_rules()
    document = report(found, learner=learner, generated_at=finished_at or "")
    for entry, row in zip(document["katas"], found, strict=True):
        entry["difficulty"] = row.kata.difficulty
        entry["minutes"] = row.kata.minutes
        entry["page"] = row.kata.page
        entry["missing_files"] = list(row.missing_files)
        entry["failures"] = [
            {
                "test": f.test,
                "rule": f.rule,
                "rule_title": rules[f.rule].title if f.rule in rules else None,
                "rule_page": rules[f.rule].page if f.rule in rules else None,
                "message": f.message,
                "broken": f.broken,
            }
            for f in row.failures
        ]
    document["graded_at"] = finished_at
    return document
