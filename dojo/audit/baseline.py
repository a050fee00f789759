"""A baseline: today's findings, recorded so that only new ones are reported (the way ruff and mypy are adopted).

A finding is matched by rule, check, file and the text of its line, not by line number, so that code
added above it does not make it new. Each fingerprint is counted: a second copy of a recorded
finding is new.
"""

import json
import os
import tempfile
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from dojo.audit.findings import Finding

VERSION = 1


class BaselineError(ValueError):
    """The baseline file cannot be read; the message says why."""


def write(path: Path, findings: Iterable[Finding]) -> int:
    counts = Counter(finding.fingerprint for finding in findings)
    entries = sorted(
        ({"fingerprint": key, "count": count} for key, count in counts.items()),
        key=lambda item: str(item["fingerprint"]),
    )
    data = {"version": VERSION, "findings": entries}
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp", encoding="utf-8") as handle:
        json.dump(data, handle, indent=1)
        handle.write("\n")
    os.replace(handle.name, path)
    return sum(counts.values())


def read(path: Path) -> Counter[str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BaselineError(f"the baseline {path} does not exist (make it with --write-baseline)") from None
    except (OSError, json.JSONDecodeError) as error:
        raise BaselineError(f"the baseline {path} cannot be read: {error}") from None
    if not isinstance(data, dict) or data.get("version") != VERSION or not isinstance(data.get("findings"), list):
        raise BaselineError(f"the baseline {path} is not a dojo audit baseline (version {VERSION})")
    counts: Counter[str] = Counter()
    for entry in data["findings"]:
        if (
            isinstance(entry, dict)
            and isinstance(entry.get("fingerprint"), str)
            and isinstance(entry.get("count"), int)
        ):
            counts[entry["fingerprint"]] += entry["count"]
    return counts


def new_findings(findings: Iterable[Finding], known: Counter[str]) -> tuple[list[Finding], int]:
    """The findings the baseline does not hold, and how many it did hold."""
    left = Counter(known)
    new: list[Finding] = []
    matched = 0
    for finding in sorted(findings):
        if left[finding.fingerprint] > 0:
            left[finding.fingerprint] -= 1
            matched += 1
        else:
            new.append(finding)
    return new, matched
