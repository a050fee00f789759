"""Inline suppressions: `# dojo: ignore[RULE-ID] reason`, on the finding's line or alone on the line above.

A reason is required. A suppression without one hides nothing and is reported; every suppression
that hid a finding is counted and listed in the report, never silent.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from dojo.audit.findings import Finding, Suppression
from dojo.audit.project import read_text

COMMENT = re.compile(r"#\s*dojo:\s*ignore\[(?P<rules>[A-Z0-9,\s-]+)\](?P<reason>[^#]*)")


@dataclass(frozen=True)
class Comment:
    line: int
    rules: frozenset[str]
    reason: str
    alone: bool  # the comment is the whole line: it covers the line below


def comments(text: str) -> list[Comment]:
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        match = COMMENT.search(line)
        if match:
            rules = frozenset(part.strip() for part in match.group("rules").split(",") if part.strip())
            reason = match.group("reason").strip(" -:—\t")
            found.append(Comment(number, rules, reason, line.lstrip().startswith("#")))
    return found


def apply(
    findings: Iterable[Finding], root: Path
) -> tuple[list[Finding], list[Suppression], list[tuple[str, Comment]]]:
    """The findings left, the suppressions that hid one, and the comments refused for want of a reason."""
    cache: dict[str, list[Comment]] = {}
    kept: list[Finding] = []
    hidden: list[Suppression] = []
    refused: dict[tuple[str, int], Comment] = {}
    for finding in findings:
        if finding.path not in cache:
            try:
                cache[finding.path] = comments(read_text(root / finding.path) or "")
            except OSError:
                cache[finding.path] = []
        match = next(
            (
                comment
                for comment in cache[finding.path]
                if finding.rule in comment.rules
                and (comment.line == finding.line or (comment.alone and comment.line == finding.line - 1))
            ),
            None,
        )
        if match is None:
            kept.append(finding)
        elif not match.reason:
            refused[(finding.path, match.line)] = match
            kept.append(finding)
        else:
            hidden.append(Suppression(finding, match.reason))
    return kept, hidden, [(path, comment) for (path, _line), comment in sorted(refused.items())]
