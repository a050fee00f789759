"""Grader of `ruff_clean`: ruff format and ruff check pass on services.py, and nothing is silenced.

Ruff runs once for the whole grader (a module-scoped fixture: `ruff format --check` and `ruff check`,
two quick processes), with the project's configuration passed explicitly: the kata's folder is
excluded from the project's own ruff run, and a tree graded outside the repository has no
configuration of its own.
"""

import json
import re
import subprocess
import tokenize
from dataclasses import FrozenInstanceError, dataclass
from datetime import date
from pathlib import Path

import pytest
from ruff.__main__ import find_ruff_bin

from dojo import grading, paths
from dojo.grading import check, shown
from ruff_clean.models import Invoice
from ruff_clean.services import Reminder, dunning_stage, overdue_invoices, parse_grace_days, reminder_for

from .factories import CustomerFactory, InvoiceFactory

SILENCERS = re.compile(
    r"#\s*((ruff|flake8)\s*:\s*noqa|noqa|isort\s*:|ruff\s*:\s*isort|fmt\s*:\s*(off|skip))", re.IGNORECASE
)
FIX_COMMANDS = "uv run ruff format {folder} && uv run ruff check --fix {folder}"


def services_path() -> Path:
    return grading.kata_dir("ruff_clean") / "services.py"


@dataclass(frozen=True)
class Finding:
    code: str
    line: int
    message: str
    fixable: bool

    def __str__(self) -> str:
        fix = "  (ruff check --fix fixes it)" if self.fixable else ""
        return f"  line {self.line:>3}  {self.code:<6} {self.message}{fix}"


@dataclass(frozen=True)
class RuffRun:
    format_diff: str  # what `ruff format` would change; empty when the file is formatted
    findings: tuple[Finding, ...]
    unsilenced: tuple[Finding, ...]  # what `ruff check --ignore-noqa` finds: every noqa comment disregarded
    failure: str  # what ruff printed when it could not run at all; empty otherwise


@pytest.fixture(scope="module")
def ruff_run() -> RuffRun:
    target = services_path()
    common = ["--config", str(paths.REPO / "pyproject.toml"), "--no-cache"]
    ruff = find_ruff_bin()
    formatted = subprocess.run(  # noqa: S603 - the project's ruff on the kata's file
        [ruff, "format", "--check", "--diff", *common, str(target)],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    checked, unsilenced = (
        subprocess.run(  # noqa: S603 - the project's ruff on the kata's file
            [ruff, "check", "--output-format", "json", *common, *extra, str(target)],
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )
        for extra in ([], ["--ignore-noqa"])
    )
    failures = [
        process.stderr.strip() for process in (formatted, checked, unsilenced) if process.returncode not in (0, 1)
    ]
    found: list[tuple[Finding, ...]] = []
    for process in (checked, unsilenced):
        try:
            entries = json.loads(process.stdout or "[]")
        except ValueError:
            entries, failures = [], [*failures, process.stdout.strip()]
        found.append(
            tuple(
                Finding(
                    code=entry["code"] or "syntax",
                    line=entry["location"]["row"],
                    message=entry["message"],
                    fixable=bool(entry["fix"]) and entry["fix"]["applicability"] == "safe",
                )
                for entry in entries
            )
        )
    return RuffRun(format_diff=formatted.stdout, findings=found[0], unsilenced=found[1], failure="\n".join(failures))


def listing(findings: list[Finding]) -> str:
    return "\n".join(str(finding) for finding in findings)


# ---- what the module computes: these pass as shipped and must keep passing -------------------------------


@pytest.mark.parametrize(
    ("typed", "days"), [("5", 5), (" 10 ", 10), ("0", 0), ("-2", 0), ("", 3), ("two weeks", 3), ("7.5", 3)]
)
def test_grace_days_are_read_from_the_organizations_setting(typed: str, days: int) -> None:
    """Grace days are read from the organization's setting."""
    assert parse_grace_days(typed) == days


def test_the_stage_grows_firmer_with_the_days_overdue() -> None:
    stages = {days: dunning_stage(days) for days in (-5, 0, 3, 4, 14, 15, 30, 31, 400)}

    assert stages == {
        -5: None,
        0: None,
        3: None,
        4: "friendly",
        14: "friendly",
        15: "firm",
        30: "firm",
        31: "final",
        400: "final",
    }
    assert dunning_stage(10, grace_days=10) is None
    assert dunning_stage(11, grace_days=10) == "friendly"


@pytest.mark.django_db
def test_overdue_invoices_are_the_open_ones_past_due_oldest_first() -> None:
    customer = CustomerFactory()
    newer = InvoiceFactory(customer=customer, due_on=date(2026, 3, 9))
    older = InvoiceFactory(customer=customer, due_on=date(2026, 2, 1))
    InvoiceFactory(customer=customer, due_on=date(2026, 3, 10))  # due today
    InvoiceFactory(customer=customer, due_on=date(2026, 1, 5), status=Invoice.Status.PAID)
    InvoiceFactory(customer=customer, due_on=date(2026, 1, 5), status=Invoice.Status.VOID)

    found = list(overdue_invoices(Invoice.objects.filter(customer=customer), date(2026, 3, 10)))

    assert found == [older, newer]


def test_a_reminder_says_how_late_and_how_much() -> None:
    invoice = InvoiceFactory.build(
        number="INV-00042", due_on=date(2026, 3, 1), amount_due_cents=129_900, customer__name="Acme GmbH"
    )

    reminder = reminder_for(invoice, date(2026, 3, 21), cc=["ap@acme.example"])

    assert reminder == Reminder(
        to=invoice.customer.email,
        cc=("ap@acme.example",),
        subject="Second reminder: invoice INV-00042 is 20 days overdue",
        body="Dear Acme GmbH,\n\ninvoice INV-00042 over 1,299.00 EUR was due on 01 March 2026, 20 days ago. "
        "Please pay it, or reply to this email if something is wrong with it.",
    )


def test_no_reminder_within_the_grace_period_and_no_copies_by_default() -> None:
    invoice = InvoiceFactory.build(due_on=date(2026, 3, 1))

    assert reminder_for(invoice, date(2026, 3, 4)) is None
    assert reminder_for(invoice, date(2026, 3, 6), grace_days=5) is None
    first = reminder_for(invoice, date(2026, 3, 5))
    second = reminder_for(invoice, date(2026, 4, 5))
    assert first is not None
    assert second is not None
    assert (first.cc, second.cc) == ((), ())
    assert (first.subject[:10], second.subject[:14]) == ("Reminder: ", "Final notice: ")


def test_a_reminder_cannot_be_changed_once_made() -> None:
    """A Reminder is a value: frozen, as it was, so that a queued reminder cannot change before it is sent"""
    reminder = Reminder(to="ap@globex.test", cc=(), subject="Reminder: INV-00001", body="Please pay it.")

    with pytest.raises(FrozenInstanceError):
        reminder.subject = "Paid, thank you"  # type: ignore[misc]


# ---- the lesson ----------------------------------------------------------------------------------------------


@pytest.mark.lesson("PY-3")
def test_ruff_format_is_clean(ruff_run: RuffRun) -> None:
    target = services_path()
    check(not ruff_run.failure, f"ruff could not check {shown(target)}:\n{ruff_run.failure}")
    diff = ruff_run.format_diff.splitlines()
    changed = [line for line in diff if line.startswith(("+", "-")) and not line.startswith(("+++", "---"))]
    excerpt = "\n".join(f"    {line}" for line in changed[:12]) + ("\n    ..." if len(changed) > 12 else "")
    check(
        not ruff_run.format_diff.strip(),
        f"`ruff format` would rewrite {shown(target)}: {len(changed)} lines of the diff (- now, + formatted):\n"
        f"{excerpt}\n"
        "Layout is the formatter's job, not the reviewer's: a file that is not formatted turns the next "
        "pull request that touches it into a screen of re-wrapped lines, and the one line that matters "
        f"is lost in it. Run `{FIX_COMMANDS.format(folder=shown(target.parent))}`: the formatter "
        "does all of this part.",
    )


@pytest.mark.lesson("PY-4")
def test_imports_are_sorted_in_groups(ruff_run: RuffRun) -> None:
    target = services_path()
    unsorted = [finding for finding in ruff_run.findings if finding.code.startswith("I")]
    check(
        not unsorted,
        f"`ruff check` finds the imports of {shown(target)} out of order:\n{listing(unsorted)}\n"
        "The standard orders imports in three groups, a blank line between them and sorted within "
        "each: the standard library (dataclasses, datetime), third-party packages (django), then "
        "our own code (`from .models import ...`). `ruff format` does not sort imports; "
        f"`uv run ruff check --fix {shown(target.parent)}` does (rule I001).",
    )


@pytest.mark.lesson("PY-3")
def test_ruff_check_is_clean(ruff_run: RuffRun) -> None:
    target = services_path()
    check(not ruff_run.failure, f"ruff could not check {shown(target)}:\n{ruff_run.failure}")
    findings = [finding for finding in ruff_run.findings if not finding.code.startswith("I")]
    check(
        not findings,
        f"`ruff check`, with the project's rules, finds {len(findings)} problem(s) in {shown(target)} "
        f"(import order aside):\n{listing(findings)}\n"
        f"Run `{FIX_COMMANDS.format(folder=shown(target.parent))}` first: the formatter and the "
        "safe fixes take care of most of these. The few left need you, and they are the ones that matter: "
        "a bare `except:` also swallows KeyboardInterrupt and real bugs (catch the exception you "
        "expect), a mutable default argument is shared by every call (default to a tuple), "
        "`== None` should be `is None`, and a line too long for the formatter to split needs splitting "
        "by hand (adjacent f-strings in parentheses). `uv run ruff rule <CODE>` explains any code.",
    )


@pytest.mark.guard("PY-3")
def test_no_finding_is_silenced(ruff_run: RuffRun) -> None:
    path = services_path()
    with path.open("rb") as source:
        comments = [
            (token.start[0], token.string)
            for token in tokenize.tokenize(source.readline)
            if token.type == tokenize.COMMENT and SILENCERS.search(token.string)
        ]
    hidden = [finding for finding in ruff_run.unsilenced if finding not in ruff_run.findings]
    check(
        not comments and not hidden,
        f"{shown(path)} silences ruff instead of passing it:\n"
        + "\n".join(f"  line {line}: {comment}" for line, comment in comments)
        + ("\n" if comments and hidden else "")
        + "\n".join(f"  hidden: {finding}" for finding in hidden)
        + "\nA `# noqa`, a `# ruff: noqa` or `# flake8: noqa` header, `# isort: skip_file` or `# fmt: off` hide "
        "a finding from CI but leave it in the code. They are for the rare justified exception, with the code "
        "and the reason; nothing in this module needs one. Remove them and fix what ruff then reports.",
    )
