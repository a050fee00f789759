"""Grader of `ruff_clean`: ruff format and ruff check pass on every Python file of the kata, nothing is
silenced, no configuration of the learner's own changes the verdict, and what the module computes is
unchanged.

Ruff runs once for the whole grader (a module-scoped fixture: `ruff format --check` and `ruff check`,
two quick processes), on every Python file of the kata's folder (a helper module of the learner's own
is linted with the rest), with the project's configuration passed explicitly: `--config` makes ruff
use that file alone, so a `ruff.toml` or `pyproject.toml` the learner adds to the folder has no effect
(and is refused by its own check), and the files are named one by one because the folder itself is in
the project's `extend-exclude`.
"""

import ast
import dataclasses
import json
import re
import subprocess
import sys
import tokenize
from collections.abc import Callable
from dataclasses import FrozenInstanceError, dataclass
from datetime import date, timedelta
from functools import partial
from pathlib import Path
from types import FrameType, ModuleType

import pytest
from hypothesis import given
from hypothesis import strategies as st
from ruff.__main__ import find_ruff_bin  # type: ignore[import-untyped]  # ruff ships no type hints

from dojo import grading, paths
from dojo.grading import check, count_queries, shown
from dojo.scenarios import reference, rolled_back, scenarios
from ruff_clean import services as learner_services
from ruff_clean.models import Invoice
from ruff_clean.services import Reminder, dunning_stage, overdue_invoices, parse_grace_days, reminder_for

from .factories import CustomerFactory, InvoiceFactory

#: a comment that tells a linter, a formatter or a type checker to look away, whatever the tool
SILENCERS = re.compile(
    r"#.*?\b(noqa|(ruff|flake8|isort|fmt|yapf|black|autopep8|pylint|pyright|mypy|pyre|pytype)\s*:|type\s*:\s*ignore"
    r"|pragma\s*:?\s*no\s*cover)",
    re.IGNORECASE,
)
#: files that configure ruff (or the linters it stands in for) when they sit in, or above, a linted file
LOCAL_CONFIGS = ("ruff.toml", ".ruff.toml", "pyproject.toml", "setup.cfg", "tox.ini", ".flake8", ".isort.cfg")
FIX_COMMANDS = "uv run ruff format {folder} && uv run ruff check --fix {folder}"


def services_path() -> Path:
    return grading.kata_dir("ruff_clean") / "services.py"


def python_files() -> list[Path]:
    """Every Python file of the kata's folder: services.py, the shipped context, and any module the learner added."""
    folder = grading.kata_dir("ruff_clean")
    return sorted(path for path in folder.rglob("*.py") if "__pycache__" not in path.parts)


def local_configs() -> list[Path]:
    """Configuration files of the learner's own in the kata's folder (the project's is the repository's)."""
    folder = grading.kata_dir("ruff_clean")
    return sorted(path for path in folder.rglob("*") if path.name in LOCAL_CONFIGS and path.is_file())


def configs_note() -> str:
    """A line naming the learner's own configuration files, which the grader (like CI) does not read."""
    found = local_configs()
    if not found:
        return ""
    names = ", ".join(shown(path) for path in found)
    return (
        f"\nNote: {names} is not read here: CI and this grader lint with the project's pyproject.toml only. "
        "Delete it, then run the commands above again: your own runs then see what CI sees."
    )


@dataclass(frozen=True)
class Finding:
    file: str
    code: str
    line: int
    message: str
    fixable: bool

    def __str__(self) -> str:
        fix = "  (ruff check --fix fixes it)" if self.fixable else ""
        return f"  {self.file}:{self.line:<4} {self.code:<6} {self.message}{fix}"


@dataclass(frozen=True)
class RuffRun:
    format_diff: str  # what `ruff format` would change; empty when the file is formatted
    findings: tuple[Finding, ...]
    unsilenced: tuple[Finding, ...]  # what `ruff check --ignore-noqa` finds: every noqa comment disregarded
    failure: str  # what ruff printed when it could not run at all; empty otherwise


@pytest.fixture(scope="module")
def ruff_run() -> RuffRun:
    targets = [str(path) for path in python_files()]
    # `--config FILE`: that file's settings for every file linted, and no configuration discovered near them
    common = ["--config", str(paths.REPO / "pyproject.toml"), "--no-cache"]
    ruff = find_ruff_bin()
    formatted = subprocess.run(  # noqa: S603 - the project's ruff on the kata's file
        [ruff, "format", "--check", "--diff", *common, *targets],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    checked, unsilenced = (
        subprocess.run(  # noqa: S603 - the project's ruff on the kata's file
            [ruff, "check", "--output-format", "json", *common, *extra, *targets],
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
                    file=shown(Path(entry["filename"])),
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


@pytest.mark.contract(5)
@pytest.mark.parametrize(
    ("typed", "days"), [("5", 5), (" 10 ", 10), ("0", 0), ("-2", 0), ("", 3), ("two weeks", 3), ("7.5", 3)]
)
def test_grace_days_are_read_from_the_organizations_setting(typed: str, days: int) -> None:
    """Grace days are read from the organization's setting."""
    assert parse_grace_days(typed) == days


@pytest.mark.contract(5)
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


@pytest.mark.contract(5)
@pytest.mark.django_db
def test_overdue_invoices_are_the_open_ones_past_due_oldest_first() -> None:
    customer = CustomerFactory.create()
    newer = InvoiceFactory.create(customer=customer, due_on=date(2026, 3, 9))
    older = InvoiceFactory.create(customer=customer, due_on=date(2026, 2, 1))
    InvoiceFactory.create(customer=customer, due_on=date(2026, 3, 10))  # due today
    InvoiceFactory.create(customer=customer, due_on=date(2026, 1, 5), status=Invoice.Status.PAID)
    InvoiceFactory.create(customer=customer, due_on=date(2026, 1, 5), status=Invoice.Status.VOID)

    found = list(overdue_invoices(Invoice.objects.filter(customer=customer), date(2026, 3, 10)))

    assert found == [older, newer]


@pytest.mark.contract(5)
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


@pytest.mark.contract(5)
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


@pytest.mark.contract(5)
def test_a_reminder_cannot_be_changed_once_made() -> None:
    """A Reminder is a value: frozen, as it was, so that a queued reminder cannot change before it is sent"""
    reminder = Reminder(to="ap@globex.test", cc=(), subject="Reminder: INV-00001", body="Please pay it.")

    with pytest.raises(FrozenInstanceError):
        reminder.subject = "Paid, thank you"  # type: ignore[misc]


# ---- the lesson ----------------------------------------------------------------------------------------------


def folder_shown() -> str:
    return shown(grading.kata_dir("ruff_clean"))


@pytest.mark.lesson("PY-3")
@pytest.mark.contract(1, 6)
def test_ruff_format_is_clean(ruff_run: RuffRun) -> None:
    check(not ruff_run.failure, f"ruff could not check {folder_shown()}:\n{ruff_run.failure}")
    diff = ruff_run.format_diff.splitlines()
    files = sorted({line[4:].strip() for line in diff if line.startswith("--- ")})
    changed = [line for line in diff if line.startswith(("+", "-")) and not line.startswith(("+++", "---"))]
    excerpt = "\n".join(f"    {line}" for line in changed[:12]) + ("\n    ..." if len(changed) > 12 else "")
    check(
        not ruff_run.format_diff.strip(),
        f"`ruff format` would rewrite {', '.join(shown(Path(name)) for name in files)}: {len(changed)} lines "
        f"of the diff (- now, + formatted):\n{excerpt}\n"
        "Layout is the formatter's job, not the reviewer's: a file that is not formatted turns the next "
        "pull request that touches it into a screen of re-wrapped lines, and the one line that matters "
        f"is lost in it. Run `{FIX_COMMANDS.format(folder=folder_shown())}`: the formatter "
        "does all of this part, in every file of the folder." + configs_note(),
    )


@pytest.mark.lesson("PY-4")
@pytest.mark.contract(2)
def test_imports_are_sorted_in_groups(ruff_run: RuffRun) -> None:
    unsorted = [finding for finding in ruff_run.findings if finding.code.startswith("I")]
    check(
        not unsorted,
        f"`ruff check` finds imports out of order in {folder_shown()}:\n{listing(unsorted)}\n"
        "The standard orders imports in three groups, a blank line between them and sorted within "
        "each: the standard library (dataclasses, datetime), third-party packages (django), then "
        "our own code (`from .models import ...`). `ruff format` does not sort imports; "
        f"`uv run ruff check --fix {folder_shown()}` does (rule I001)." + configs_note(),
    )


@pytest.mark.lesson("PY-3")
@pytest.mark.contract(2, 6)
def test_ruff_check_is_clean(ruff_run: RuffRun) -> None:
    check(not ruff_run.failure, f"ruff could not check {folder_shown()}:\n{ruff_run.failure}")
    findings = [finding for finding in ruff_run.findings if not finding.code.startswith("I")]
    check(
        not findings,
        f"`ruff check`, with the project's rules, finds {len(findings)} problem(s) in {folder_shown()} "
        f"(import order aside):\n{listing(findings)}\n"
        f"Run `{FIX_COMMANDS.format(folder=folder_shown())}` first: the formatter and the "
        "safe fixes take care of most of these. The few left need you, and they are the ones that matter: "
        "a bare `except:` also swallows KeyboardInterrupt and real bugs (catch the exception you "
        "expect), a mutable default argument is shared by every call (default to a tuple), "
        "`== None` should be `is None`, and a line too long for the formatter to split needs splitting "
        "by hand (adjacent f-strings in parentheses). `uv run ruff rule <CODE>` explains any code. "
        "Every Python file of the folder is checked, a module of your own too: moving a finding elsewhere "
        "does not fix it." + configs_note(),
    )


def silencing_comments(path: Path) -> list[tuple[int, str]]:
    """The comments of a Python file that tell a tool to look away, with their line numbers."""
    with path.open("rb") as source:
        try:
            return [
                (token.start[0], token.string)
                for token in tokenize.tokenize(source.readline)
                if token.type == tokenize.COMMENT and SILENCERS.search(token.string)
            ]
        except (tokenize.TokenError, SyntaxError):
            return []  # ruff reports a file it cannot parse; the lint check names it


@pytest.mark.guard("PY-3")
@pytest.mark.contract(3)
def test_no_finding_is_silenced(ruff_run: RuffRun) -> None:
    reference_folder = paths.SOLUTIONS / "ruff_clean"
    allowed = {
        comment
        for path in reference_folder.rglob("*.py")
        if "__pycache__" not in path.parts
        for _, comment in silencing_comments(path)
    }
    comments = [
        (path, line, comment)
        for path in python_files()
        for line, comment in silencing_comments(path)
        if comment not in allowed
    ]
    hidden = [finding for finding in ruff_run.unsilenced if finding not in ruff_run.findings]
    check(
        not comments and not hidden,
        f"{folder_shown()} silences its tools instead of passing them:\n"
        + "\n".join(f"  {shown(path)}:{line}  {comment}" for path, line, comment in comments)
        + ("\n" if comments and hidden else "")
        + "\n".join(f"  hidden: {finding}" for finding in hidden)
        + "\nA `# noqa`, a `# ruff: noqa` or `# flake8: noqa` header, `# isort: skip_file`, `# fmt: off` or "
        "`# fmt: skip`, `# yapf: disable`, `# pylint: disable`, `# type: ignore` hide a finding from CI (or "
        "tell the next reader that the layout is nobody's job) but leave the problem in the code. They are "
        "for the rare justified exception, with the code and the reason; nothing in this module needs one. "
        "Remove them and fix what ruff then reports.",
    )


@pytest.mark.guard("PY-3")
@pytest.mark.contract(4)
def test_no_configuration_of_your_own() -> None:
    found = local_configs()
    check(
        not found,
        f"{', '.join(shown(path) for path in found)}: a configuration file in the kata's folder. Ruff reads "
        "the configuration file nearest to each file it checks, so this one changes what "
        f"`uv run ruff check {folder_shown()}` tells you, while CI (and this grader) use the project's "
        "pyproject.toml alone: you would see green where CI sees red. The rules are the team's, in one "
        "place. Delete the file and fix what ruff then reports.",
    )


# ---- what the module computes, over generated inputs, against the reference ------------------------------

#: what an organization types: numbers with signs, spaces and underscores, digits of other scripts, garbage
GRACE_TEXT = st.one_of(
    st.sampled_from(["+5", " 7 ", "-2", "1_0", "²", "٣", "0x10", "5.0", "", "  ", "\t12\n", "٣٠", "-0"]),
    st.tuples(
        st.sampled_from(["", " ", "\t", "+", "-", "0"]), st.integers(0, 99), st.sampled_from(["", " ", "\n", "_0"])
    ).map(lambda parts: f"{parts[0]}{parts[1]}{parts[2]}"),
    st.text(max_size=8),
)


def outcome(call: Callable[[], object]) -> object:
    """What a call gives, in a neutral form: a value (dataclasses as dicts), or the exception's type."""
    try:
        value = call()
    except Exception as error:
        return ("raises", type(error).__name__)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return ("Reminder", dataclasses.asdict(value))
    return value


@pytest.fixture(scope="module")
def reference_services() -> ModuleType:
    return reference("ruff_clean.services")


@pytest.mark.guard("PY-3")
@pytest.mark.contract(5)
@pytest.mark.timeout(60)  # generated examples: the default 10 s is for one scenario, not 30
@scenarios(30)
@given(
    grace_text=GRACE_TEXT,
    days_overdue=st.integers(-60, 500),
    grace_days=st.one_of(st.none(), st.integers(0, 60)),
    amount_due_cents=st.integers(0, 10**10),
    due_on=st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)),
    cc=st.lists(st.sampled_from(["ap@acme.example", "cfo@acme.example", ""]), max_size=3),
)
def test_what_the_module_computes_is_unchanged(
    reference_services: ModuleType,
    grace_text: str,
    days_overdue: int,
    grace_days: int | None,
    amount_due_cents: int,
    due_on: date,
    cc: list[str],
) -> None:
    grace = {} if grace_days is None else {"grace_days": grace_days}
    invoice = InvoiceFactory.build(
        number="INV-00042", due_on=due_on, amount_due_cents=amount_due_cents, customer__name="Acme GmbH"
    )
    today = due_on + timedelta(days=days_overdue)
    extra = {"cc": cc} if cc else {}
    calls: dict[str, Callable[[ModuleType], object]] = {
        f"parse_grace_days({grace_text!r})": lambda module: module.parse_grace_days(grace_text),
        f"dunning_stage({days_overdue}{f', grace_days={grace_days}' if grace else ''})": lambda module: (
            module.dunning_stage(days_overdue, **grace)
        ),
        (
            f"reminder_for(an invoice over {amount_due_cents} cents due on {due_on}, today={today}"
            f"{f', grace_days={grace_days}' if grace else ''}{f', cc={cc}' if cc else ''})"
        ): lambda module: module.reminder_for(invoice, today, **grace, **extra),
    }
    for call, run in calls.items():
        theirs = outcome(partial(run, learner_services))
        expected = outcome(partial(run, reference_services))
        check(
            theirs == expected,
            f"{call} gives {theirs!r}, where the module as it was gives {expected!r}.\n"
            "Cleaning a module must not change what it computes (PY-3): a fix for a finding changed "
            "behaviour here. Compare your change of that function with the original, line by line.",
        )


@pytest.mark.guard("PY-3")
@pytest.mark.contract(5)
@pytest.mark.django_db
@pytest.mark.timeout(60)  # generated examples: the default 10 s is for one scenario, not 15
@scenarios(15)
@given(
    invoices=st.lists(st.tuples(st.integers(-5, 5), st.sampled_from(list(Invoice.Status))), min_size=0, max_size=6),
)
def test_overdue_invoices_are_unchanged_on_generated_data(
    reference_services: ModuleType, invoices: list[tuple[int, str]]
) -> None:
    today = date(2026, 3, 10)
    with rolled_back():
        customer = CustomerFactory.create()
        for days, status in invoices:
            InvoiceFactory.create(customer=customer, due_on=today + timedelta(days=days), status=status)
        queryset = Invoice.objects.filter(customer=customer)
        theirs = [invoice.number for invoice in learner_services.overdue_invoices(queryset, today)]
        expected = [invoice.number for invoice in reference_services.overdue_invoices(queryset, today)]
    scenario = ", ".join(f"{status} due {days:+d} days from today" for days, status in invoices) or "no invoices"
    check(
        theirs == expected,
        f"overdue_invoices() lists {theirs}, where the module as it was lists {expected}, for {scenario}.\n"
        "Cleaning a module must not change what it computes (PY-3): the open invoices past due, oldest "
        "first, then by number. Compare your change of overdue_invoices() with the original.",
    )


@pytest.mark.guard("PY-3")
@pytest.mark.contract(7)
@pytest.mark.django_db
@pytest.mark.timeout(60)  # generated examples: the default 10 s is for one scenario, not 10
@scenarios(10)
@given(customers=st.lists(st.integers(1, 4), min_size=1, max_size=5))
def test_the_dunning_run_queries_no_more_than_before(reference_services: ModuleType, customers: list[int]) -> None:
    """Every overdue invoice comes with its customer: the run's queries do not grow with the invoices."""
    today = date(2026, 3, 10)
    with rolled_back():
        for overdue in customers:
            InvoiceFactory.create_batch(overdue, customer=CustomerFactory.create(), due_on=today - timedelta(days=20))
        queries = {}
        for label, module in (("theirs", learner_services), ("expected", reference_services)):
            with count_queries() as log:
                for invoice in module.overdue_invoices(Invoice.objects.all(), today):
                    module.reminder_for(invoice, today)
            queries[label] = log
    invoices = sum(customers)
    check(
        queries["theirs"].count <= queries["expected"].count,
        f"Reminders for {invoices} overdue invoices of {len(customers)} customers take "
        f"{queries['theirs'].count} queries, where the module as it was takes {queries['expected'].count}. "
        f"{queries['theirs'].describe()}\n"
        "Each reminder reads its invoice's customer (name and email): unless overdue_invoices() loads the "
        "customers with the invoices, every reminder asks the database for its own, one query per invoice "
        '(N+1, PERF-2). Keep `.select_related("customer")` in the query when you rewrap it.',
    )


#: folders that tools write next to the code (caches), not code of the learner's
TOOL_FOLDERS = re.compile(r"^(__pycache__|\.\w+_cache|\.hypothesis)$")
#: what compiled Python looks like on disk: code that runs and that no linter reads
COMPILED = (".pyc", ".pyo", ".so", ".pyd", ".zip", ".egg", ".whl")


def added_files() -> list[Path]:
    """The files of the kata's folder that the kata as shipped does not have, tool caches left out."""
    folder = grading.kata_dir("ruff_clean")
    shipped = {path.relative_to(paths.SOLUTIONS / "ruff_clean") for path in (paths.SOLUTIONS / "ruff_clean").rglob("*")}
    return sorted(
        path
        for path in folder.rglob("*")
        if path.is_file()
        and path.relative_to(folder) not in shipped
        and not any(TOOL_FOLDERS.match(part) for part in path.relative_to(folder).parts[:-1])
    )


def holds_python(path: Path) -> bool:
    """Whether a file that is not a .py file holds Python code: compiled code, or source with a def, class or import."""
    if path.suffix in COMPILED:
        return True
    try:
        tree = ast.parse(path.read_bytes())
    except (SyntaxError, ValueError):
        return False
    return any(
        isinstance(node, ast.FunctionDef | ast.ClassDef | ast.Import | ast.ImportFrom) for node in ast.walk(tree)
    )


def code_that_runs(module: ModuleType, package: str, folder: Path) -> dict[tuple[str, str], str]:
    """The functions of `package` (or of files in `folder`) that a dunning run of `module` calls.

    Each as (its module, its qualified name) -> the file its code was compiled from.
    """
    ran: dict[tuple[str, str], str] = {}

    def profile(frame: FrameType, event: str, _: object) -> None:
        name = str(frame.f_globals.get("__name__", ""))
        filename = frame.f_code.co_filename
        if event == "call" and (name == package or name.startswith(f"{package}.") or filename.startswith(str(folder))):
            ran.setdefault((name, frame.f_code.co_qualname), filename)

    today = date(2026, 3, 10)
    with rolled_back():
        for days in (5, 20, 40):
            InvoiceFactory.create(due_on=today - timedelta(days=days))
        previous = sys.getprofile()
        sys.setprofile(profile)
        try:
            module.parse_grace_days("5")
            module.parse_grace_days("five")
            for invoice in module.overdue_invoices(Invoice.objects.all(), today):
                module.reminder_for(invoice, today, cc=["ap@acme.example"])
        finally:
            sys.setprofile(previous)
    return ran


@pytest.mark.guard("PY-3")
@pytest.mark.contract(2, 6)
@pytest.mark.django_db
def test_the_code_that_runs_is_the_code_ruff_checks(reference_services: ModuleType) -> None:
    folder = grading.kata_dir("ruff_clean")
    linted = {str(path.resolve()) for path in python_files()}
    # what the reference runs from code generated at run time (a dataclass's __init__): no file to lint there
    generated = {
        qualname
        for (_, qualname), filename in code_that_runs(
            reference_services, reference_services.__package__ or "", folder
        ).items()
        if not Path(filename).is_file()
    }
    unlinted = {
        f"{name}.{qualname}": filename
        for (name, qualname), filename in code_that_runs(learner_services, "ruff_clean", folder).items()
        if str(Path(filename).resolve()) not in linted and qualname not in generated
    }
    hidden = [path for path in added_files() if path.suffix != ".py" and holds_python(path)]
    check(
        not unlinted and not hidden,
        f"Code of the dunning module lives where ruff does not look, in {folder_shown()}:\n"
        + "\n".join(f"  {name}() runs from {shown(Path(filename))}" for name, filename in sorted(unlinted.items()))
        + ("\n" if unlinted and hidden else "")
        + "\n".join(f"  {shown(path)} holds Python code but is not a .py file" for path in hidden)
        + "\nRuff and CI check the .py files of the folder; code in a .txt file, in bytecode or in a string "
        "that is loaded or executed at run time is never formatted or linted, and mypy sees only `Any`: its "
        "findings are still in the code that runs, one loader away. Put the code back in services.py (or a "
        "module of your own, a .py file) and fix what ruff then reports.",
    )
