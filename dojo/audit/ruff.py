"""The checks ruff already knows, run by rule code and mapped to our rules.

ruff runs with `--ignore-noqa`, so a `noqa` comment hides nothing from the audit; a second run that
honours them shows which comments would have hidden a finding, and the report lists those comments.
It runs with `--no-cache`: the audit writes nothing into the audited tree.
"""

import json
import re
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from ruff import find_ruff_bin  # type: ignore[import-untyped]

from dojo.audit.findings import Finding, Noqa, Problem
from dojo.audit.project import Project, SourceFile, read_text

SELECT = ["ANN", "E4", "E7", "E9", "F", "I001", "DTZ", "S608", "S610", "S611", "S113"]
IGNORE = ["ANN401"]  # `Any` is allowed at integration boundaries, with a comment: for review
CHUNK = 2_000  # files per ruff command line
NOQA_COMMENT = re.compile(r"#\s*(?:ruff:\s*|flake8[:]\s*)?noqa\b[^#]*", re.IGNORECASE)


@dataclass(frozen=True)
class RuffResult:
    findings: list[Finding]
    noqa: list[Noqa]
    problems: list[Problem]


def rule_for(code: str, source: SourceFile | None) -> tuple[str, str] | None:
    """Our rule and check for a ruff code, or None when the finding is not one of ours."""
    if code.startswith("ANN"):
        return "PY-2", "ruff-annotations"
    if code == "I001":
        return "PY-4", "ruff-isort"
    if code.startswith("DTZ"):
        # tests build naive values on purpose, to prove that the code refuses them
        return None if source is not None and source.is_test else ("DJ-5", "ruff-naive-datetimes")
    if code in {"S608", "S610", "S611"}:
        return "DJ-4", "ruff-raw-sql"
    if code == "S113":
        return "ARCH-5", "ruff-request-timeout"
    if code[0] in "EF":
        return "PY-3", "ruff-lint"
    return None


def _chunks(files: Sequence[SourceFile]) -> Iterator[Sequence[SourceFile]]:
    for start in range(0, len(files), CHUNK):
        yield files[start : start + CHUNK]


def _source_roots(project: Project) -> str:
    """ruff's `src` for the import order: the project's own import paths, so that its packages are first-party
    (with no `[tool.ruff]` of the project's, ruff would take `/` as the project's root and see none)."""
    roots = [project.root, project.root / "src", *project.import_paths]
    return "src = [" + ", ".join(json.dumps(str(root)) for root in dict.fromkeys(roots)) + "]"


def _lint_command(files: Sequence[SourceFile], *, ignore_noqa: bool, src: str) -> list[str]:
    command = [find_ruff_bin(), "check", "--no-cache", "--exit-zero", "--output-format", "json", "--quiet"]
    command += ["--config", "lint.ignore = []", "--config", src]
    command += ["--select", ",".join(SELECT), "--ignore", ",".join(IGNORE)]
    if ignore_noqa:
        command.append("--ignore-noqa")
    return [*command, "--", *(source.relative for source in files)]


def _format_command(files: Sequence[SourceFile]) -> list[str]:
    command = [find_ruff_bin(), "format", "--check", "--no-cache", "--output-format", "json", "--quiet"]
    return [*command, "--", *(source.relative for source in files)]


def run(project: Project, lint_files: Sequence[SourceFile]) -> RuffResult:
    """Lint and format-check the files, three ruff processes at a time."""
    by_path = {source.relative: source for source in lint_files}
    findings: list[Finding] = []
    noqa: list[Noqa] = []
    problems: list[Problem] = []
    for chunk in _chunks(lint_files):
        processes = {
            name: subprocess.Popen(  # noqa: S603 - ruff, on the files we listed
                command, cwd=project.root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
            for name, command in (
                ("all", _lint_command(chunk, ignore_noqa=True, src=_source_roots(project))),
                ("honouring", _lint_command(chunk, ignore_noqa=False, src=_source_roots(project))),
                ("format", _format_command(chunk)),
            )
        }
        outputs = {name: process.communicate() for name, process in processes.items()}
        every = _diagnostics(outputs["all"][0], project, problems)
        honoured = {_key(item) for item in _diagnostics(outputs["honouring"][0], project, [])}
        for item in every:
            relative = project.relative(item["filename"])
            source = by_path.get(relative)
            mapped = rule_for(str(item.get("code") or ""), source) if item.get("code") else None
            if mapped is None:
                continue
            rule, check = mapped
            line = int(item["location"]["row"])
            text = _line(source, line)
            findings.append(Finding(relative, line, rule, check, f"{item['code']}: {item['message']}", text))
            if _key(item) not in honoured:
                noqa.append(_noqa_for(source, relative, item, rule))
        findings.extend(_format_findings(outputs["format"], project, problems))
    return RuffResult(findings, noqa, problems)


def _diagnostics(stdout: str, project: Project, problems: list[Problem]) -> list[dict[str, Any]]:
    try:
        data = json.loads(stdout or "[]")
    except json.JSONDecodeError:
        problems.append(Problem("ruff", f"ruff's output could not be read: {stdout[:200]!r}"))
        return []
    return [item for item in data if isinstance(item, dict)]


def _key(item: dict[str, Any]) -> tuple[object, ...]:
    location = item.get("location")
    return (item.get("filename"), item.get("code"), json.dumps(location, sort_keys=True))


def _line(source: SourceFile | None, number: int) -> str:
    if source is None:
        return ""
    try:
        lines = (read_text(source.path) or "").splitlines()
    except OSError:
        return ""
    return lines[number - 1].strip() if 0 < number <= len(lines) else ""


def _noqa_for(source: SourceFile | None, relative: str, item: dict[str, Any], rule: str) -> Noqa:
    number = int(item.get("noqa_row") or item["location"]["row"])
    match = NOQA_COMMENT.search(_line(source, number))
    if match is None and source is not None:  # a file-level `# ruff: noqa`
        lines = (read_text(source.path) or "").splitlines()
        for index, text in enumerate(lines, start=1):
            found = NOQA_COMMENT.search(text)
            if found and re.match(r"\s*#\s*(ruff|flake8)\s*:\s*noqa", text, re.IGNORECASE):
                number, match = index, found
                break
    comment = match.group(0).strip() if match else "noqa"
    return Noqa(relative, number, rule, str(item.get("code")), comment, int(item["location"]["row"]))


def _format_findings(output: tuple[str, str], project: Project, problems: list[Problem]) -> Iterator[Finding]:
    stdout, stderr = output
    for item in _diagnostics(stdout, project, problems):
        if item.get("code") == "unformatted":
            row = int(item["location"]["row"])
            yield Finding(
                project.relative(item["filename"]), row, "PY-3", "ruff-format",
                f"`ruff format` would change this file, from line {row} on.",
            )  # fmt: skip
    for line in stderr.splitlines():
        # a file that does not parse is reported once, by the syntax check; other errors are problems
        if line.startswith("error:") and "Failed to parse" not in line:
            problems.append(Problem("ruff format", line.removeprefix("error:").strip()))


def ruff_version() -> str:
    completed = subprocess.run(  # noqa: S603 - ruff, fixed arguments
        [find_ruff_bin(), "--version"], capture_output=True, text=True, check=False
    )
    return completed.stdout.strip()
