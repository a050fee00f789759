"""The grading results: one format, written by the grading plugin and read by `dojo`, the site and the tests.

A results document (`--dojo-report FILE`, and `.dojo/results.json` for the learner's own tree) holds,
per kata, a typed status and one entry per check. A kata is solved only when every one of its checks
ran and passed: a check left out by `-k` or a node id, or skipped (by `pytest.skip()` in learner code,
or because it needs PostgreSQL), makes the kata incomplete, and its notes say why and what to run.

Documents are written atomically (`dojo.files.write_json_atomic`), so a reader never sees half a file;
a file that still cannot be read is reported (`UnreadableResultsError`), never taken for "nothing graded".
"""

import json
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

VERSION = 2
#: How long learner output may be, in the results and on screen, before the rest is behind a note.
OUTPUT_LINES = 200
OUTPUT_LINE_CHARACTERS = 2_000
#: A skip that says this (the plugin's `postgresql` marker on SQLite) is reported as "needs PostgreSQL".
NEEDS_POSTGRESQL = "needs PostgreSQL"
POSTGRESQL_EXAMPLE = "DATABASE_URL=postgres://postgres@127.0.0.1:5432/dojo"


class KataStatus(StrEnum):
    """What the last grading of a kata says. A `str`: `status == "failing"` still reads as it did."""

    SOLVED = "solved"  # every check ran and passed
    FAILING = "failing"  # at least one check failed
    BROKEN = "broken"  # the kata's code could not be loaded (or the grading process died)
    INCOMPLETE = "incomplete"  # nothing failed, but some check did not run: see the kata's notes

    @classmethod
    def _missing_(cls, value: object) -> "KataStatus | None":
        # results written before statuses were typed
        return {"passed": cls.SOLVED, "skipped": cls.INCOMPLETE}.get(str(value))


class Stop(StrEnum):
    """Why the harness, not the check, ended a check or a kata's grading: the one vocabulary for it.

    A check that ran to its verdict has no stop. Every harness stop is made by `stopped()`.
    """

    CHECK_TIMEOUT = "check timeout"  # one check ran longer than its limit (DOJO_GRADER_TIMEOUT)
    LOAD_TIMEOUT = "load timeout"  # loading the kata ran longer than its limit (DOJO_LOAD_TIMEOUT)
    GRADING_TIMEOUT = "grading timeout"  # the kata's process, or the whole grading, ran out of time
    EXIT = "exit"  # the kata's code ended its process (`os._exit`, `sys.exit` at import)
    CRASH = "crash"  # the kata's process died (a signal, a crash of the interpreter)
    UNLOADABLE = "unloadable"  # the kata's code could not be loaded (syntax error, failing import, …)
    TAMPERED = "tampered"  # the harness's own files or objects were changed (reserved)
    DATABASE_UNAVAILABLE = "database unavailable"  # the test database could not be reached (reserved)
    KILLED = "killed"  # the grading was stopped from outside (reserved)


#: The stops that mean "it took too long", not "it is wrong".
TIME_LIMITS = frozenset({Stop.CHECK_TIMEOUT, Stop.LOAD_TIMEOUT, Stop.GRADING_TIMEOUT})


class Kind(StrEnum):
    """What a check is for: the kata's lesson, a guard against a wrong fix, behaviour, or the harness."""

    LESSON = "lesson"
    GUARD = "guard"
    BEHAVIOUR = "behaviour"
    HARNESS = "harness"


class Outcome(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class TestResult:
    """One check's outcome. `test` is its id within the kata (the test name, with parameters)."""

    __test__ = False  # not a pytest test class, whatever its name

    test: str
    outcome: str
    rule: str | None
    message: str  # the whole failure (or skip) message, never cut; learner output is shortened
    broken: bool
    title: str = ""  # what the check says it checks: its docstring's first line, or its name made readable
    output: str = ""  # what the code printed during the check, shortened with a "… N lines more" note
    kind: Kind | None = None  # None in documents written before kinds were recorded
    stop: Stop | None = None  # why the harness ended it; None: the check ran to its verdict

    @property
    def took_too_long(self) -> bool:
        return self.stop in TIME_LIMITS


def stopped(test: str, stop: Stop, message: str) -> TestResult:
    """A check (or a kata's grading) that the harness ended: the one way such a result is made."""
    return TestResult(
        test=test,
        outcome=Outcome.FAILED,
        rule=None,
        message=message,
        broken=True,
        title="The kata can be graded",
        kind=Kind.HARNESS,
        stop=stop,
    )


#: The name of a check's record among its report's `user_properties`.
RECORD = "dojo_result"


def entry(slug: str, result: TestResult) -> dict[str, Any]:
    """A check's result as a grading process carries it on its report's `user_properties` (under `RECORD`):
    the record and its kata."""
    return {"slug": slug, **asdict(result)}


@dataclass(frozen=True)
class KataResult:
    slug: str
    status: KataStatus
    tests: tuple[TestResult, ...]
    notes: tuple[str, ...] = ()  # why the kata is not solved when no check failed (incomplete, broken)
    deselected: tuple[str, ...] = ()  # checks this grading left out (`-k`, a node id)
    graded_at: str | None = field(default=None, compare=False)  # when: two gradings alike are equal
    # sha256 of the graded kata folder (`dojo.tamper.checksum`): a lead can grade the same files again and
    # compare; a result edited by hand, or kept from other files, does not match them
    files_sha256: str | None = field(default=None, compare=False)

    def outcome_of(self, test: str) -> str | None:
        outcomes = [r.outcome for r in self.tests if r.test == test or r.test.startswith(test + "[")]
        if not outcomes:
            return None
        return "failed" if "failed" in outcomes else outcomes[0]

    @property
    def solved(self) -> bool:
        return self.status is KataStatus.SOLVED


@dataclass(frozen=True)
class Results:
    """A whole results document."""

    tree: str
    finished_at: str | None
    katas: dict[str, KataResult] = field(default_factory=dict)


class UnreadableResultsError(Exception):
    """A results file exists but is not a results document, even after waiting for a writer to finish."""


def shorten(text: str, lines: int = OUTPUT_LINES, width: int = OUTPUT_LINE_CHARACTERS) -> str:
    """`text` with at most `lines` lines of at most `width` characters; what is left out is counted."""
    kept = text.splitlines()
    more = len(kept) - lines
    kept = kept[:lines]
    cut = [line if len(line) <= width else f"{line[:width]}… ({len(line) - width} characters more)" for line in kept]
    if more > 0:
        cut.append(f"… {more} lines more")
    return "\n".join(cut)


def readable_name(test: str) -> str:
    """`test_a_month_without_invoices[sqlite]` → "A month without invoices [sqlite]"."""
    name, bracket, parameters = test.partition("[")
    words = name.removeprefix("test_").replace("_", " ").strip()
    title = words[:1].upper() + words[1:]
    return f"{title} [{parameters}" if bracket else title


def title_of(test: str, docstring: str | None) -> str:
    """A check's title: the first line of its docstring when it has one, else its name made readable."""
    first = next((line.strip() for line in (docstring or "").splitlines() if line.strip()), "")
    if not first:
        return readable_name(test)
    _name, bracket, parameters = test.partition("[")
    return f"{first} [{parameters}" if bracket else first


def kata_status(tests: Iterable[TestResult], deselected: Iterable[str] = ()) -> KataStatus:
    entries = list(tests)
    if any(entry.broken for entry in entries):
        return KataStatus.BROKEN
    if any(entry.outcome == Outcome.FAILED for entry in entries):
        return KataStatus.FAILING
    if not entries or list(deselected) or any(entry.outcome != Outcome.PASSED for entry in entries):
        return KataStatus.INCOMPLETE
    return KataStatus.SOLVED


def _checks(count: int) -> str:
    return f"{count} check{'s' if count != 1 else ''}"


def incomplete_notes(slug: str, tests: Iterable[TestResult], deselected: Iterable[str]) -> tuple[str, ...]:
    """Why a kata whose checks did not all run is not solved, and what to run to grade it whole."""
    entries = list(tests)
    left_out = list(deselected)
    notes = []
    skipped = [entry for entry in entries if entry.outcome == Outcome.SKIPPED]
    on_postgresql = [entry for entry in skipped if NEEDS_POSTGRESQL in entry.message]
    if on_postgresql:
        notes.append(
            f"{_checks(len(on_postgresql))} need{'s' if len(on_postgresql) == 1 else ''} PostgreSQL, "
            f"which this grading did not use: run `{POSTGRESQL_EXAMPLE} uv run pytest katas/{slug}` "
            "(any PostgreSQL database you may create; CI does this)."
        )
    reasons = Counter(entry.message or "no reason given" for entry in skipped if entry not in on_postgresql)
    for reason, count in reasons.items():
        notes.append(f"{_checks(count)} skipped ({reason}): a skipped check is not a passed one.")
    if left_out:
        notes.append(
            f"{_checks(len(left_out))} left out of this grading (`-k` or a test selection): "
            f"`uv run pytest katas/{slug}` grades the whole kata."
        )
    if not entries and not left_out:
        notes.append(f"No check of {slug} ran.")
    return tuple(notes)


def kata_result(
    slug: str,
    tests: Iterable[TestResult],
    *,
    deselected: Iterable[str] = (),
    notes: Iterable[str] = (),
    graded_at: str | None = None,
    files_sha256: str | None = None,
) -> KataResult:
    """A kata's result from its checks: the status and, when it is incomplete, the notes saying why."""
    entries = tuple(tests)
    left_out = tuple(deselected)
    status = kata_status(entries, left_out)
    extra = tuple(notes)
    if status is KataStatus.INCOMPLETE:
        extra += incomplete_notes(slug, entries, left_out)
    return KataResult(
        slug=slug,
        status=status,
        tests=entries,
        notes=extra,
        deselected=left_out,
        graded_at=graded_at,
        files_sha256=files_sha256,
    )


def _test_result(data: Mapping[str, Any]) -> TestResult:
    known = TestResult.__dataclass_fields__
    fields = {key: value for key, value in data.items() if key in known}
    # a word a later version added reads as none here: the check's outcome still says what happened
    kind, stop = fields.get("kind"), fields.get("stop")
    fields["kind"] = Kind(kind) if kind in set(Kind) else None
    fields["stop"] = Stop(stop) if stop in set(Stop) else None
    return TestResult(**fields)


def parse_katas(document: Mapping[str, Any]) -> dict[str, KataResult]:
    """The per-kata results of a document (this version or the one before); KeyError/ValueError if malformed."""
    katas = {}
    for slug, entry in document.get("katas", {}).items():
        tests = tuple(_test_result(test) for test in entry["tests"])
        katas[slug] = KataResult(
            slug=slug,
            status=KataStatus(entry["status"]),
            tests=tests,
            notes=tuple(entry.get("notes", ())),
            deselected=tuple(entry.get("deselected", ())),
            graded_at=entry.get("graded_at", document.get("finished_at")),
            files_sha256=entry.get("files_sha256"),
        )
    return katas


def parse(document: Mapping[str, Any]) -> Results:
    return Results(
        tree=str(document.get("tree", "")), finished_at=document.get("finished_at"), katas=parse_katas(document)
    )


def to_document(results: Results) -> dict[str, Any]:
    return {
        "version": VERSION,
        "tree": results.tree,
        "finished_at": results.finished_at,
        "katas": {
            slug: {
                "status": str(kata.status),
                "graded_at": kata.graded_at,
                "files_sha256": kata.files_sha256,
                "notes": list(kata.notes),
                "deselected": list(kata.deselected),
                "tests": [asdict(test) for test in kata.tests],
            }
            for slug, kata in results.katas.items()
        },
    }


def read(path: Path, *, attempts: int = 3, pause: float = 0.05) -> Results | None:
    """The results in `path`; None when there is no such file.

    A file that does not parse is read again a few times (a writer that does not write atomically may
    be half-way); if it still does not parse, `UnreadableResultsError` says so: it is never taken for `{}`.
    """
    problem = ""
    for attempt in range(attempts):
        try:
            return parse(json.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as error:
            problem = str(error)
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            problem = f"{type(error).__name__}: {error}"
        if attempt + 1 < attempts:
            time.sleep(pause)
    raise UnreadableResultsError(f"{path} is not a results document ({problem}); the next grading rewrites it.")


def write(path: Path, results: Results) -> None:
    """Write `results` to `path` in one step: a reader sees the old document or the new one."""
    from dojo.files import write_json_atomic

    write_json_atomic(path, to_document(results))


def merge(previous: Results | None, new: Results, known: Iterable[str]) -> Results:
    """`new`, plus the katas of `previous` that `new` did not grade (and that still exist)."""
    slugs = set(known)
    katas = {slug: kata for slug, kata in (previous.katas.items() if previous else ()) if slug in slugs}
    katas.update(new.katas)
    return Results(tree=new.tree, finished_at=new.finished_at, katas=katas)


def record(path: Path, new: Results, known: Iterable[str]) -> Results:
    """Merge `new` into the results kept at `path` and write them back; an unreadable old file is replaced."""
    try:
        previous = read(path)
    except UnreadableResultsError:
        previous = None
    merged = merge(previous, new, known)
    write(path, merged)
    return merged
