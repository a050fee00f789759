"""What a check reports: a finding at `file:line`, in one sentence, for one rule."""

import hashlib
from dataclasses import dataclass, field


@dataclass(frozen=True, order=True)
class Finding:
    """One place where the code breaks a rule. `path` is relative to the audited root."""

    path: str
    line: int
    rule: str
    check: str
    message: str
    # the source line's text, stripped: a baseline matches on it, so findings survive edits above them
    text: str = field(default="", compare=False)

    @property
    def fingerprint(self) -> str:
        key = "\0".join((self.rule, self.check, self.path, self.text or self.message))
        return hashlib.sha256(key.encode()).hexdigest()[:20]


@dataclass(frozen=True)
class Suppression:
    """An inline `# dojo: ignore[RULE-ID] reason` that hid a finding."""

    finding: Finding
    reason: str


@dataclass(frozen=True)
class Noqa:
    """A `noqa` comment that would have hidden a finding of one of our rules from ruff."""

    path: str
    line: int  # the comment's line
    rule: str
    code: str
    comment: str
    finding_line: int  # the line of the finding it hides (a file-level comment hides many)


@dataclass(frozen=True)
class Problem:
    """Something the audit could not do or could not read, said plainly (never silently skipped)."""

    where: str
    message: str
