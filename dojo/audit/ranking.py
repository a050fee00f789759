"""The report for a lead: the findings ranked by severity, repeated decisions counted once, PY-2 as coverage.

Every form of the report (text, Markdown, and the `summary` of the JSON report) reads these items, so
that the order and the counts agree. JSON and SARIF still list every finding, one by one.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from dojo.audit.findings import Finding, Noqa
from dojo.audit.registry import Kind, check_named, coverage

HIGH, MEDIUM, LOW = "high", "medium", "low"
SEVERITIES = (HIGH, MEDIUM, LOW)
# a defect that loses or leaks data, or stalls a request, is high; a design rule is medium; a convention low
SEVERITY = {
    "DJ-4": HIGH, "DATA-1": HIGH, "DATA-2": HIGH, "DATA-3": HIGH, "DATA-4": HIGH, "DATA-5": HIGH,
    "PERF-2": HIGH, "ARCH-6": HIGH,
    "DJ-5": MEDIUM, "API-1": MEDIUM, "API-2": MEDIUM, "API-3": MEDIUM, "API-4": MEDIUM, "ARCH-1": MEDIUM,
    "ARCH-2": MEDIUM, "ARCH-3": MEDIUM, "ARCH-4": MEDIUM, "ARCH-5": MEDIUM, "PERF-1": MEDIUM, "PERF-3": MEDIUM,
    "TEST-1": MEDIUM, "TEST-2": MEDIUM, "TEST-5": MEDIUM, "PY-3": MEDIUM,
}  # fmt: skip
CHECK_SEVERITY = {"ruff-request-timeout": HIGH, "ruff-format": LOW}  # a request without a timeout stalls a worker
# checks whose findings are one decision of the project repeated (its layout, its URL scheme, its tooling)
REPEATED = frozenset({
    "apps-directory", "api-version-prefix", "ruff-format", "ruff-isort", "test-layout", "pytest-style",
    "model-factories", "model-timestamps", "uv-project", "venv-location",
})  # fmt: skip
COVERAGE_CHECKS = frozenset({"ruff-annotations"})  # shown as coverage per package, not line by line
PER_FILE = frozenset({"ruff-lint"})  # one code repeated in one file is one item


def _code(finding: Finding) -> str:
    return finding.message.split(":", 1)[0]  # shown as coverage per package, not line by line


def severity(finding: Finding) -> str:
    return CHECK_SEVERITY.get(finding.check) or SEVERITY.get(finding.rule, LOW)


@dataclass(frozen=True)
class Item:
    """One line of the report: a finding, the findings of several checks on one line, or one decision
    repeated `count` times (at `path:line` first, then `elsewhere`)."""

    rule: str
    severity: str
    path: str
    line: int
    message: str
    checks: tuple[str, ...]
    count: int = 1
    elsewhere: tuple[str, ...] = ()

    @property
    def check_kind_coverage(self) -> bool:
        """PY-2's item: shown as coverage per package."""
        return bool(set(self.checks) & COVERAGE_CHECKS)

    @property
    def merged(self) -> str:
        """ "static and run-time" when checks of both kinds saw this line."""
        kinds = {check_named(check).kind for check in self.checks}
        return "static and run-time" if {Kind.STATIC, Kind.RUNTIME} <= kinds else ""


def items(findings: Iterable[Finding]) -> list[Item]:
    """The findings as report items, most severe first, then by rule in the standard's order, then place."""
    order = {rule: position for position, rule in enumerate(coverage())}
    by_line: dict[tuple[str, str, int], list[Finding]] = {}
    repeated: dict[tuple[str, str], list[Finding]] = {}
    per_file: dict[tuple[str, str, str, str], list[Finding]] = {}
    for finding in findings:
        if finding.check in REPEATED or finding.check in COVERAGE_CHECKS:
            repeated.setdefault((finding.rule, finding.check), []).append(finding)
        elif finding.check in PER_FILE:  # one lint code repeated down one file (E402 in settings): one item
            per_file.setdefault((finding.rule, finding.check, finding.path, _code(finding)), []).append(finding)
        else:
            by_line.setdefault((finding.rule, finding.path, finding.line), []).append(finding)
    out = []
    for (rule, path, line), group in by_line.items():
        group.sort(key=lambda item: (check_named(item.check).kind is not Kind.RUNTIME, item.check))
        checks = tuple(dict.fromkeys(item.check for item in group))
        worst = min((severity(item) for item in group), key=SEVERITIES.index)
        out.append(Item(rule, worst, path, line, group[0].message, checks))
    for (rule, check), group in repeated.items():
        group.sort(key=lambda item: (item.path, item.line))
        first = group[0]
        message = first.message if len(group) == 1 else f"{check_named(check).finds} ({len(group)} places)"
        if check in COVERAGE_CHECKS:
            message = f"{len(group)} parameters and return values without a type hint"
        elsewhere = tuple(f"{item.path}:{item.line}" for item in group[1:])
        out.append(Item(rule, severity(first), first.path, first.line, message, (check,), len(group), elsewhere))
    for (rule, check, path, _lint_code), group in per_file.items():
        group.sort(key=lambda item: item.line)
        first = group[0]
        message = first.message if len(group) == 1 else f"{first.message} ({len(group)} lines)"
        elsewhere = tuple(f"{path}:{item.line}" for item in group[1:])
        out.append(Item(rule, severity(first), path, first.line, message, (check,), len(group), elsewhere))
    out.sort(key=lambda item: (SEVERITIES.index(item.severity), order.get(item.rule, 99), item.path, item.line))
    return out


def annotation_coverage(annotations: dict[str, tuple[int, int]]) -> list[tuple[str, int, int]]:
    """PY-2 per package: (package, annotated, all), least covered first."""
    rows = [(package, done, total) for package, (done, total) in annotations.items() if total]
    return sorted(rows, key=lambda row: (row[1] / row[2], -row[2], row[0]))


def percent(done: int, total: int) -> str:
    return f"{100 * done // total} %" if total else "-"


@dataclass(frozen=True)
class NoqaComment:
    """One `noqa` comment, once, with every finding of the standard that it would hide from ruff."""

    path: str
    line: int
    comment: str
    hidden: tuple[str, ...]  # "PY-2 ANN001 (line 12)"


def noqa_comments(noqa: Iterable[Noqa]) -> list[NoqaComment]:
    grouped: dict[tuple[str, int, str], list[Noqa]] = {}
    for item in noqa:
        grouped.setdefault((item.path, item.line, item.comment), []).append(item)
    return [
        NoqaComment(
            path,
            line,
            comment,
            tuple(
                dict.fromkeys(
                    f"{item.rule} {item.code}" + (f" (line {item.finding_line})" if item.finding_line != line else "")
                    for item in group
                )
            ),
        )
        for (path, line, comment), group in sorted(grouped.items())
    ]
