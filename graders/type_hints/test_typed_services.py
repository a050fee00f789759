"""Grader of `type_hints`: mypy --strict is clean on every module of the kata, every function that runs is
annotated with the contract's types, and every `Any` says why it is there.

mypy runs once for the whole grader (a module-scoped fixture), with the project's `[tool.mypy]`
settings and the django-stubs plugin, on every Python file of the kata's folder (a helper module of the
learner's is checked with the rest) and on two probe modules of this grader's, which use the services
with the contract's types (mypy must accept every line) and with wrong ones (mypy must report an error
on every line). Each run has a cache of its own, dropped after it: a shared cache reports a module it
finds unchanged with the errors and the path of the run that cached it, so a tree graded from another
folder (or a probe written to another temporary folder) would lose its findings. A cold run takes
about 2 s more.

mypy checks only what it analyses: a body under `if TYPE_CHECKING:`'s `else`, or behind a `.pyi` stub,
is never type-checked. The checks on the source itself (every function that runs is annotated, only
imports under TYPE_CHECKING, no stub files) close that gap.
"""

import ast
import dataclasses
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tokenize
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from dojo import grading, paths
from dojo.grading import check, read_source, shown
from dojo.scenarios import reference, rolled_back, scenarios
from type_hints.models import Invoice
from type_hints.services import InvoiceTotals, invoice_totals, open_balance_cents, overdue, parse_tax_rates, tax_cents

from .factories import CustomerFactory, InvoiceFactory, InvoiceLineFactory

MYPY_SECONDS = 120  # far above a cold run's few seconds, even on a busy machine
MYPY_SETTINGS = "graders.type_hints.mypy_settings"
BOUNDARY = "parse_tax_rates"  # receives the tax provider's decoded JSON: the module's one integration boundary
SWITCHES = re.compile(r"#\s*(type:\s*ignore\b|mypy:|ruff:\s*noqa\b|noqa\b(?!:)|noqa:.*\bANN)", re.IGNORECASE)


def services_path() -> Path:
    return grading.kata_dir("type_hints") / "services.py"


def module_paths() -> list[Path]:
    """Every Python module of the kata's folder: services.py, the shipped models, any module the learner added."""
    folder = grading.kata_dir("type_hints")
    return sorted(path for path in folder.rglob("*.py") if "__pycache__" not in path.parts)


def stub_paths() -> list[Path]:
    folder = grading.kata_dir("type_hints")
    return sorted(path for path in folder.rglob("*.pyi") if "__pycache__" not in path.parts)


PROBE_HEADER = """\
import json
from datetime import date
from decimal import Decimal

from django.db.models import QuerySet

from type_hints.models import Invoice
from type_hints.services import InvoiceTotals, invoice_totals, open_balance_cents, overdue, parse_tax_rates, tax_cents


"""
#: what a probe's function receives: one value of each type the contract names
PROBE_PARAMETERS = "invoice: Invoice, invoices: QuerySet[Invoice], today: date, rate: Decimal, totals: InvoiceTotals"

#: uses of the services with the contract's types, each with what it asks in the contract's words: mypy
#: must accept every one
ACCEPTED = [
    ("cents: int = tax_cents(10_000, rate)", "tax_cents(net_cents: int, rate_percent: Decimal) returns an int"),
    (
        'cents = tax_cents(net_cents=10_000, rate_percent=Decimal("19"))',
        "tax_cents() takes `net_cents` and `rate_percent` by name too",
    ),
    (
        "made: InvoiceTotals = invoice_totals(invoice, rate)",
        "invoice_totals(invoice: Invoice, rate_percent: Decimal) returns an InvoiceTotals",
    ),
    (
        "made = InvoiceTotals(net_cents=10_000, tax_cents=1_900, gross_cents=11_900)",
        "InvoiceTotals is built from int cents",
    ),
    (
        "cents = totals.net_cents + totals.tax_cents + totals.gross_cents",
        "InvoiceTotals' fields net_cents, tax_cents and gross_cents are int",
    ),
    (
        "late: QuerySet[Invoice] = overdue(invoices, today)",
        "overdue(invoices: QuerySet[Invoice], today: date) returns a QuerySet[Invoice]",
    ),
    (
        "oldest: Invoice | None = overdue(invoices, today).first()",
        "overdue() returns a QuerySet[Invoice], whose first() is an Invoice or None",
    ),
    ("cents = open_balance_cents(invoices)", "open_balance_cents(invoices: QuerySet[Invoice]) returns an int"),
    (
        'rates: dict[str, Decimal] = parse_tax_rates(json.loads("{}"))',
        "parse_tax_rates(...) takes the decoded JSON and returns a dict[str, Decimal]",
    ),
    (
        'cents = tax_cents(open_balance_cents(overdue(invoices, today)), parse_tax_rates(json.loads("{}"))["DE"])',
        "what one service returns is what the next one takes",
    ),
]
#: uses with wrong types, each with what the contract asks of the services: mypy must report an error on
#: each line (the reference's error code is the first word of the reason: it is the one it gives, alone)
REFUSED = [
    ('tax_cents(10_000, "19")', 'arg-type: tax_cents() refuses a rate given as a string, such as the provider\'s "19"'),
    ("tax_cents(10_000, 0.19)", "arg-type: tax_cents() refuses a rate given as a float"),
    ("tax_cents(10_000, None)", "arg-type: tax_cents() refuses a missing rate (None)"),
    ('tax_cents("10000", rate)', "arg-type: tax_cents() refuses cents given as a string"),
    ("tax_cents(10.5, rate)", "arg-type: tax_cents() refuses fractional cents (a float): cents are int"),
    ("tax_cents(None, rate)", "arg-type: tax_cents() refuses missing cents (None)"),
    ('invoice_totals(invoice, "19")', "arg-type: invoice_totals() refuses a rate given as a string"),
    ("invoice_totals(invoices, rate)", "arg-type: invoice_totals() refuses a queryset where one invoice is due"),
    ("invoice_totals(None, rate)", "arg-type: invoice_totals() refuses a missing invoice (None)"),
    ('overdue(invoices, "2026-03-01")', "arg-type: overdue() refuses a day given as a string"),
    ("overdue(invoices, None)", "arg-type: overdue() refuses a missing day (None)"),
    ("overdue([invoice], today)", "arg-type: overdue() refuses a list where a QuerySet is due"),
    ("open_balance_cents([invoice])", "arg-type: open_balance_cents() refuses a list where a QuerySet is due"),
    (
        'InvoiceTotals(net_cents="100", tax_cents=19, gross_cents=119)',
        "arg-type: InvoiceTotals refuses net_cents given as a string",
    ),
    (
        "InvoiceTotals(net_cents=100.5, tax_cents=19, gross_cents=119)",
        "arg-type: InvoiceTotals refuses fractional net_cents (a float)",
    ),
    (
        "InvoiceTotals(net_cents=100, tax_cents=None, gross_cents=119)",
        "arg-type: InvoiceTotals refuses a missing tax_cents (None)",
    ),
    (
        "InvoiceTotals(net_cents=100, tax_cents=19, gross_cents=[119])",
        "arg-type: InvoiceTotals refuses gross_cents given as a list",
    ),
    ("label: str = totals.gross_cents", "assignment: InvoiceTotals.gross_cents is an int, not a str"),
    ("share: Decimal = totals.net_cents", "assignment: InvoiceTotals.net_cents is an int, not a Decimal"),
    ("maybe: None = totals.tax_cents", "assignment: InvoiceTotals.tax_cents is an int, never None"),
    ("text: str = tax_cents(10_000, rate)", "assignment: tax_cents() returns an int, not a str"),
    ("day: date = invoice_totals(invoice, rate)", "assignment: invoice_totals() returns an InvoiceTotals"),
    ("listed: list[Invoice] = overdue(invoices, today)", "assignment: overdue() returns a QuerySet, not a list"),
    ("text: str = open_balance_cents(invoices)", "assignment: open_balance_cents() returns an int, not a str"),
    (
        'floats: dict[str, float] = parse_tax_rates(json.loads("{}"))',
        "assignment: parse_tax_rates() returns a dict of Decimal rates, not of floats",
    ),
]


def probe_module(uses: list[tuple[str, str]]) -> tuple[str, dict[int, str]]:
    """A module with one function per use, and what each line of it asks, by line number."""
    text = PROBE_HEADER
    lines: dict[int, str] = {}
    for number, (use, asks) in enumerate(uses):
        text += f"def use_{number}({PROBE_PARAMETERS}) -> None:\n"
        lines[text.count("\n") + 1] = f"{use}  ({asks})"
        text += f"    {use}\n\n\n"
    return text, lines


@dataclass(frozen=True)
class MypyFinding:
    file: str
    line: int
    message: str
    code: str | None

    def __str__(self) -> str:
        return f"  {self.file}:{self.line}: {self.message}" + (f"  [{self.code}]" if self.code else "")


@dataclass(frozen=True)
class MypyRun:
    findings: tuple[MypyFinding, ...]  # in the kata's folder
    accepted: tuple[MypyFinding, ...]  # in the grader's module of uses with the contract's types
    refused: tuple[MypyFinding, ...]  # in the grader's module of uses with wrong types
    failure: str  # what mypy printed when it could not check the files at all; empty otherwise


def toml_value(value: object) -> str:
    """Strings, booleans and lists of strings, the only values the mypy settings use, as TOML."""
    return json.dumps(value)


def mypy_config(directory: Path, kata_root: Path) -> Path:
    """The project's `[tool.mypy]` settings, pointed at the graded tree and at this grader's Django settings,
    with a cache in `directory` (this run's own)."""
    project = tomllib.loads((paths.REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mypy"]
    settings = {key: value for key, value in project.items() if key not in ("files", "mypy_path", "overrides")}
    settings |= {"mypy_path": str(kata_root), "explicit_package_bases": True, "cache_dir": str(directory / "cache")}
    lines = ["[tool.mypy]", *(f"{key} = {toml_value(value)}" for key, value in settings.items())]
    lines += ["", "[tool.django-stubs]", f"django_settings_module = {toml_value(MYPY_SETTINGS)}"]
    config = directory / "mypy.toml"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return config


@pytest.fixture(scope="module")
def mypy_run(tmp_path_factory: pytest.TempPathFactory) -> MypyRun:
    folder = grading.kata_dir("type_hints").resolve()
    kata_root = folder.parent
    directory = tmp_path_factory.mktemp("mypy")
    config = mypy_config(directory, kata_root)
    accepted = directory / "type_hints_contract_accepted.py"
    accepted.write_text(probe_module(ACCEPTED)[0], encoding="utf-8")
    refused = directory / "type_hints_contract_refused.py"
    refused.write_text(probe_module(REFUSED)[0], encoding="utf-8")
    targets = [str(path) for path in module_paths()] + [str(accepted), str(refused)]
    # mypy's Django plugin imports the kata through dojo.settings, which writes no bytecode into the tree
    env = {**os.environ, "DOJO_KATA_ROOT": str(kata_root)}
    try:
        completed = subprocess.run(  # noqa: S603 - our own interpreter running mypy on the kata
            [sys.executable, "-m", "mypy", "--config-file", str(config), "--output", "json", *targets],
            cwd=paths.REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=MYPY_SECONDS - 5,
            check=False,
        )
    finally:
        shutil.rmtree(directory / "cache", ignore_errors=True)
    findings, in_accepted, in_refused, other = [], [], [], []
    for line in completed.stdout.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            other.append(line)
            continue
        if entry["severity"] != "error":
            continue
        where = Path(entry["file"]).resolve()
        finding = MypyFinding(file=shown(where), line=entry["line"], message=entry["message"], code=entry["code"])
        if where == accepted.resolve():
            in_accepted.append(finding)
        elif where == refused.resolve():
            in_refused.append(finding)
        elif where.is_relative_to(folder):
            findings.append(finding)
    failure = "" if completed.returncode in (0, 1) else "\n".join([*other, completed.stderr.strip()]).strip()
    return MypyRun(findings=tuple(findings), accepted=tuple(in_accepted), refused=tuple(in_refused), failure=failure)


def comments_by_line(source: str) -> dict[int, str]:
    return {
        token.start[0]: token.string
        for token in tokenize.generate_tokens(io.StringIO(source).readline)
        if token.type == tokenize.COMMENT
    }


def any_names(tree: ast.Module) -> set[str]:
    """The names `Any` goes by in the module: `Any`, the aliases it was imported as, and module-level
    aliases whose value mentions it (`Json = Any`, `Payload: TypeAlias = dict[str, Any]`, `type J = Any`)."""
    names = {"Any"}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module in ("typing", "typing_extensions"):
            names |= {alias.asname for alias in node.names if alias.name == "Any" and alias.asname}
    aliases: list[tuple[str, ast.expr]] = []
    for statement in tree.body:
        if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
            target, value = statement.targets[0], statement.value
        elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
            target, value = statement.target, statement.value
        elif isinstance(statement, ast.TypeAlias):
            target, value = statement.name, statement.value
        else:
            continue
        if isinstance(target, ast.Name):
            aliases.append((target.id, value))
    grown = True
    while grown:  # an alias of an alias of Any is Any too
        grown = False
        for name, value in aliases:
            if name not in names and mentions_any(value, names):
                names.add(name)
                grown = True
    return names


def is_any(node: ast.AST, names: set[str]) -> bool:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):  # a string annotation: "Any", "dict[str, Any]"
        try:
            parsed = ast.parse(node.value, mode="eval")
        except SyntaxError:
            return False
        return mentions_any(parsed.body, names)
    return (isinstance(node, ast.Name) and node.id in names) or (isinstance(node, ast.Attribute) and node.attr == "Any")


def mentions_any(node: ast.AST | None, names: set[str]) -> bool:
    return node is not None and any(is_any(child, names) for child in ast.walk(node))


def says_why(comment: str | None) -> bool:
    """A comment with a reason in it: at least two words once pragmas like `# type: ignore` are left out."""
    if comment is None:
        return False
    text = re.sub(r"#\s*(type:\s*ignore(\[[^\]]*\])?|noqa(:\s*[A-Z0-9, ]+)?)", " ", comment)
    text = re.sub(r"^[#\s]*Any\s*:", "", text.strip())
    return len(re.findall(r"[A-Za-z]{2,}", text)) >= 2


def annotations_of(tree: ast.Module) -> Iterator[tuple[str, ast.expr]]:
    """Every annotation of a signature or a class attribute, with the name of its function or class."""
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            arguments = node.args
            every = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs, arguments.vararg, arguments.kwarg]
            for argument in every:
                if argument is not None and argument.annotation is not None:
                    yield f"{node.name}({argument.arg})", argument.annotation
            if node.returns is not None:
                yield f"{node.name}() -> return", node.returns
        elif isinstance(node, ast.ClassDef):
            for statement in node.body:
                if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
                    yield f"{node.name}.{statement.target.id}", statement.annotation


# ---- what the module computes: these pass as shipped and must keep passing -------------------------------


@pytest.mark.contract(6)
def test_tax_is_rounded_half_up_to_the_cent() -> None:
    assert tax_cents(10_000, Decimal("19")) == 1_900
    assert tax_cents(250, Decimal("7")) == 18  # 17.5 cents
    assert tax_cents(249, Decimal("7")) == 17  # 17.43 cents
    assert tax_cents(0, Decimal("20")) == 0


@pytest.mark.contract(6)
def test_tax_rates_are_read_from_the_providers_table() -> None:
    payload = {
        "as_of": "2026-01-01",
        "rates": [{"country": "DE", "rate": "19.0"}, {"country": "AT", "rate": 20}, {"country": "LU", "rate": 17}],
    }

    assert parse_tax_rates(payload) == {"DE": Decimal("19.0"), "AT": Decimal("20"), "LU": Decimal("17")}


@pytest.mark.contract(6)
@pytest.mark.django_db
def test_invoice_totals_add_the_lines_and_their_tax() -> None:
    invoice = InvoiceFactory.create()
    InvoiceLineFactory.create(invoice=invoice, quantity=3, unit_price_cents=1_250)
    InvoiceLineFactory.create(invoice=invoice, quantity=1, unit_price_cents=999)
    InvoiceLineFactory.create(quantity=5)  # another invoice's line

    assert invoice_totals(invoice, Decimal("19")) == InvoiceTotals(net_cents=4_749, tax_cents=902, gross_cents=5_651)
    assert invoice_totals(InvoiceFactory.create(), Decimal("19")) == InvoiceTotals(0, 0, 0)


@pytest.mark.contract(6)
@pytest.mark.django_db
def test_overdue_lists_open_invoices_due_before_the_day_oldest_first() -> None:
    customer = CustomerFactory.create()
    late = InvoiceFactory.create(customer=customer, due_on=date(2026, 3, 2), number="INV-B")
    later = InvoiceFactory.create(customer=customer, due_on=date(2026, 2, 27))
    same_day = InvoiceFactory.create(customer=customer, due_on=date(2026, 3, 2), number="INV-A")
    InvoiceFactory.create(customer=customer, due_on=date(2026, 3, 3))  # due today: not overdue yet
    InvoiceFactory.create(customer=customer, due_on=date(2026, 1, 1), status=Invoice.Status.PAID)

    found = list(overdue(Invoice.objects.filter(customer=customer), date(2026, 3, 3)))

    assert found == [later, same_day, late]


@pytest.mark.contract(6)
@pytest.mark.django_db
def test_open_balance_sums_what_the_open_invoices_owe() -> None:
    customer = CustomerFactory.create()
    InvoiceFactory.create(customer=customer, amount_due_cents=11_900)
    InvoiceFactory.create(customer=customer, amount_due_cents=2_380)
    InvoiceFactory.create(customer=customer, amount_due_cents=5_000, status=Invoice.Status.PAID)
    InvoiceFactory.create(amount_due_cents=7_000)  # another customer's invoice

    assert open_balance_cents(Invoice.objects.filter(customer=customer)) == 14_280
    assert open_balance_cents(Invoice.objects.none()) == 0


# ---- the same, over generated data, against the reference ---------------------------------------------------

RATES = st.decimals(min_value=0, max_value=100, places=2, allow_nan=False, allow_infinity=False)
#: a rate as the provider's JSON can hold it: a string, an integer, or a number with a fraction, which
#: json.loads() decodes as a float (8.1 becomes the binary float nearest to 8.1), or a Decimal for a caller
#: that decodes with parse_float=Decimal
PAYLOAD_RATES = st.one_of(RATES.map(str), st.integers(0, 30), RATES.map(float), RATES)
COUNTRIES = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=2, max_size=2)


def outcome(call: Callable[[], object]) -> object:
    """What a call gives, in a neutral form: a value (dataclasses as tuples), or the exception's type."""
    try:
        value = call()
    except Exception as error:
        return ("raises", type(error).__name__)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.astuple(value)
    return value


@pytest.fixture(scope="module")
def reference_services() -> ModuleType:
    return reference("type_hints.services")


def same(call: str, theirs: object, expected: object) -> None:
    check(
        theirs == expected,
        f"{call} gives {theirs!r}, where the module as it was gives {expected!r}.\n"
        "Typing a module must not change what it computes: an annotation is not a conversion, and a "
        "value converted to fit a type (a rate through float, cents through Decimal) is another value. So is "
        "a float from the JSON handed to Decimal() as it is: Decimal(8.1) is the float's binary value, "
        "8.0999…, and Decimal(str(8.1)) the rate as written, 8.1.",
    )


@pytest.mark.guard("PY-2")
@pytest.mark.contract(6)
@pytest.mark.timeout(60)  # generated examples: the default 10 s is for one scenario
@scenarios(40)
@given(
    net_cents=st.integers(0, 10**12),
    rate=RATES,
    table=st.lists(st.tuples(COUNTRIES, PAYLOAD_RATES), max_size=4),
)
@example(net_cents=500, rate=Decimal("8.1"), table=[("CH", json.loads("8.1"))])
def test_what_the_functions_compute_is_unchanged(
    reference_services: ModuleType, net_cents: int, rate: Decimal, table: list[tuple[str, object]]
) -> None:
    from type_hints import services

    same(
        f"tax_cents({net_cents}, Decimal({str(rate)!r}))",
        outcome(lambda: services.tax_cents(net_cents, rate)),
        outcome(lambda: reference_services.tax_cents(net_cents, rate)),
    )
    payload = {"as_of": "2026-01-01", "rates": [{"country": country, "rate": value} for country, value in table]}
    same(
        f"parse_tax_rates({payload!r})",
        outcome(lambda: services.parse_tax_rates(payload)),
        outcome(lambda: reference_services.parse_tax_rates(payload)),
    )


@pytest.mark.guard("PY-2")
@pytest.mark.contract(6)
@pytest.mark.django_db
@pytest.mark.timeout(60)  # generated examples: the default 10 s is for one scenario
@scenarios(15)
@given(
    lines=st.lists(st.tuples(st.integers(1, 50), st.integers(0, 100_000)), max_size=4),
    rate=RATES,
    invoices=st.lists(
        st.tuples(st.integers(-3, 3), st.sampled_from(list(Invoice.Status)), st.integers(0, 10**6)), max_size=5
    ),
)
def test_totals_overdue_and_balances_are_unchanged(
    reference_services: ModuleType,
    lines: list[tuple[int, int]],
    rate: Decimal,
    invoices: list[tuple[int, str, int]],
) -> None:
    from type_hints import services

    today = date(2026, 3, 3)
    with rolled_back():
        invoice = InvoiceFactory.create()
        for quantity, unit_price_cents in lines:
            InvoiceLineFactory.create(invoice=invoice, quantity=quantity, unit_price_cents=unit_price_cents)
        customer = CustomerFactory.create()
        for days, status, cents in invoices:
            InvoiceFactory.create(
                customer=customer, due_on=today + timedelta(days=days), status=status, amount_due_cents=cents
            )
        queryset = Invoice.objects.filter(customer=customer)
        scenario = ", ".join(
            f"{status} {cents} cents due {days:+d} days from today" for days, status, cents in invoices
        )
        same(
            f"invoice_totals(an invoice with lines {lines}, Decimal({str(rate)!r}))",
            outcome(lambda: services.invoice_totals(invoice, rate)),
            outcome(lambda: reference_services.invoice_totals(invoice, rate)),
        )
        same(
            f"overdue(invoices: {scenario or 'none'})",
            [found.pk for found in services.overdue(queryset, today)],
            [found.pk for found in reference_services.overdue(queryset, today)],
        )
        same(
            f"open_balance_cents(invoices: {scenario or 'none'})",
            outcome(lambda: services.open_balance_cents(queryset)),
            outcome(lambda: reference_services.open_balance_cents(queryset)),
        )


# ---- the lesson ----------------------------------------------------------------------------------------------


def folder_shown() -> str:
    return shown(grading.kata_dir("type_hints"))


def parsed_modules() -> list[tuple[Path, str, ast.Module]]:
    """Each module of the kata's folder: its path, its source and its syntax tree."""
    modules = []
    for path in module_paths():
        source = read_source(path)
        modules.append((path, source, ast.parse(source)))
    return modules


@pytest.mark.lesson("PY-2")
@pytest.mark.contract(1, 7)
@pytest.mark.timeout(MYPY_SECONDS)
def test_mypy_strict_is_clean(mypy_run: MypyRun) -> None:
    check(not mypy_run.failure, f"mypy could not check {folder_shown()}:\n{mypy_run.failure}")
    listed = "\n".join(str(finding) for finding in mypy_run.findings[:15])
    more = f"\n  ... and {len(mypy_run.findings) - 15} more" if len(mypy_run.findings) > 15 else ""
    check(
        not mypy_run.findings,
        f"mypy --strict (with the django-stubs plugin, as CI runs it) finds {len(mypy_run.findings)} "
        f"problem(s) in {folder_shown()}:\n{listed}{more}\n"
        "mypy does not check code without annotations: a caller can pass a rate as a string, or euros "
        "where cents are due, and nothing complains before production. Annotate every parameter and "
        "every return value with the real type: `int` for cents, `Decimal` for rates, `date`, "
        "`Invoice`, `QuerySet[Invoice]` (from django.db.models). Each finding left after that is a "
        "place where the types don't add up: fix the code or the annotation, don't silence it. Every "
        "module of the folder is checked, a helper module of your own too.",
    )


@pytest.mark.lesson("PY-2")
@pytest.mark.contract(2)
@pytest.mark.timeout(MYPY_SECONDS)
def test_the_signatures_carry_the_contracts_types(mypy_run: MypyRun) -> None:
    check(not mypy_run.failure, f"mypy could not check {folder_shown()}:\n{mypy_run.failure}")
    accepted_lines, refused_lines = probe_module(ACCEPTED)[1], probe_module(REFUSED)[1]
    rejected = sorted(
        {
            f"  {accepted_lines.get(finding.line, f'line {finding.line}')}: {finding.message}"
            for finding in mypy_run.accepted
        }
    )
    reported = {finding.line for finding in mypy_run.refused}
    let_through = [f"  {asks}" for line, asks in refused_lines.items() if line not in reported]
    elsewhere = sorted(
        {
            f"  line {finding.line}: {finding.message}"
            for finding in mypy_run.refused
            if finding.line not in refused_lines
        }
    )
    broken = []
    if rejected or elsewhere:
        broken += [
            "mypy refuses these uses with the types the README names:",
            *rejected,
            *elsewhere,
        ]
    if let_through:
        broken += ["mypy accepts these uses with wrong types, each of which it must report:", *let_through]
    check(
        not broken,
        "The grader used the services from typed modules of its own, once with the types the README "
        "names and once with wrong ones, and mypy did not answer as the contract asks:\n"
        + "\n".join(broken)
        + "\nAn annotation that is missing, `Any` (under any name, `Incomplete` too), or wider than the "
        "real type (`Decimal | str`, `float` for cents) lets the 1 April bug through again: the provider's "
        '"19" reaches `tax_cents()`, or half a cent does, and mypy says nothing. Annotate with the real '
        "types: `int` cents (InvoiceTotals' fields too), `Decimal` rates, `date` days, `Invoice`, "
        "`QuerySet[Invoice]`, and the return types the functions really have.",
    )


def unannotated(tree: ast.Module) -> Iterator[tuple[int, str]]:
    """Every function or method, at any depth and in any branch, whose parameters or return lack a type."""
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        arguments = node.args
        every = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs, arguments.vararg, arguments.kwarg]
        missing = [
            argument.arg
            for position, argument in enumerate(every)
            if argument is not None
            and argument.annotation is None
            and not (position == 0 and argument.arg in ("self", "cls"))
        ]
        if node.returns is None:
            missing.append("the return value")
        if missing:
            yield node.lineno, f"{node.name}(): {', '.join(missing)}"


@pytest.mark.lesson("PY-2")
@pytest.mark.contract(1, 7)
def test_every_function_that_runs_is_annotated() -> None:
    missing = [
        f"  {shown(path)}:{line}  {what}" for path, _, tree in parsed_modules() for line, what in unannotated(tree)
    ]
    check(
        not missing,
        f"These functions of {folder_shown()} have parameters or return values without a type:\n"
        + "\n".join(missing)
        + "\nmypy --strict checks a function's body only through its annotations, and CI runs it on the "
        "code that runs. Annotate every parameter and every return value of every function, nested "
        "ones and helpers included.",
    )


def type_checking_test(node: ast.expr) -> bool:
    """An `if` test that only a type checker sees as true (or false): TYPE_CHECKING, `False`, `0`."""
    names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} | {
        n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)
    }
    constant = isinstance(node, ast.Constant) and not node.value
    return "TYPE_CHECKING" in names or constant


def hidden_from_mypy(tree: ast.Module) -> Iterator[tuple[int, str]]:
    """Code that runs but that mypy never checks: anything but imports under TYPE_CHECKING, and its `else`."""
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and type_checking_test(node.test):
            for statement in [*node.body, *node.orelse]:
                if not isinstance(statement, ast.Import | ast.ImportFrom | ast.Pass):
                    yield statement.lineno, ast.unparse(statement).splitlines()[0]


@pytest.mark.guard("PY-2")
@pytest.mark.contract(1, 5)
def test_nothing_is_hidden_from_mypy() -> None:
    hidden = [
        f"  {shown(path)}:{line}  {text}" for path, _, tree in parsed_modules() for line, text in hidden_from_mypy(tree)
    ]
    hidden += [f"  {shown(path)}: a stub file, which mypy reads instead of the module's code" for path in stub_paths()]
    check(
        not hidden,
        f"{folder_shown()} shows mypy something other than the code that runs:\n"
        + "\n".join(hidden)
        + "\nmypy reads the `if TYPE_CHECKING:` branch and skips its `else`, and it reads a `.pyi` stub "
        "instead of the module beside it: typed stubs over untyped bodies pass mypy while the code "
        "that runs is checked by nothing. Keep only imports under `if TYPE_CHECKING:`, no `else`, no stub "
        "files, and type the functions themselves.",
    )


@pytest.mark.lesson("PY-2")
@pytest.mark.contract(4)
def test_every_any_says_why() -> None:
    silent: list[str] = []
    for path, source, tree in parsed_modules():
        imports = {
            line
            for node in ast.walk(tree)
            if isinstance(node, ast.Import | ast.ImportFrom)
            for line in range(node.lineno, (node.end_lineno or node.lineno) + 1)
        }
        names = any_names(tree)
        used = {node.lineno for node in ast.walk(tree) if is_any(node, names) and isinstance(node, ast.expr)}
        comments = comments_by_line(source)
        lines = source.splitlines()
        silent += [
            f"  {shown(path)}:{line}  {lines[line - 1].strip()}"
            for line in sorted(used - imports)
            if not says_why(comments.get(line))
        ]
    check(
        not silent,
        f"`Any` switches mypy off for a value, and {folder_shown()} uses it without saying why:\n"
        + "\n".join(silent)
        + "\nThe standard allows `Any` only at an integration boundary (the ORM, a third-party library's "
        "untyped data), with a comment on the same line that says which boundary and where the value "
        "becomes a real type, e.g. `# Any: the provider's decoded JSON; narrowed below`. Where you can "
        "name the type, use the type instead.",
    )


@pytest.mark.lesson("PY-2")
@pytest.mark.contract(5)
def test_no_check_is_switched_off() -> None:
    switches: list[str] = []
    for path, source, tree in parsed_modules():
        switches += [
            f"  {shown(path)}:{line}  {comment.strip()}"
            for line, comment in sorted(comments_by_line(source).items())
            if SWITCHES.search(comment)
        ]
        no_type_check = {"no_type_check"} | {
            alias.asname
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom)
            for alias in node.names
            if alias.name in ("no_type_check", "no_type_check_decorator") and alias.asname
        }
        switches += [
            f"  {shown(path)}:{node.lineno}  @no_type_check"
            for node in ast.walk(tree)
            if (isinstance(node, ast.Name) and node.id in no_type_check)
            or (isinstance(node, ast.Attribute) and node.attr == "no_type_check")
        ]
    check(
        not switches,
        f"{folder_shown()} turns checks off instead of passing them:\n"
        + "\n".join(switches)
        + "\nThis module needs none of them once it is typed: `# ruff: noqa: ANN…` hides the missing "
        "annotations from ruff, and `# type: ignore`, `# mypy: …` or @no_type_check hide errors from "
        "mypy. Remove them, and let the annotations make both tools pass.",
    )


@pytest.mark.guard("PY-2")
@pytest.mark.contract(3)
def test_any_only_at_the_integration_boundary() -> None:
    loose: list[str] = []
    for path, _, tree in parsed_modules():
        names = any_names(tree)
        loose += [
            f"{shown(path)}: {where}"
            for where, annotation in annotations_of(tree)
            if not where.startswith(f"{BOUNDARY}(") and mentions_any(annotation, names)
        ]
    check(
        not loose,
        f"These annotations use `Any` where our own types are known: {', '.join(loose)}.\n"
        f"`Any` passes mypy and checks nothing; a comment does not change that. Only `{BOUNDARY}()` "
        "receives untyped data (the tax provider's JSON). Everything else has a real type: `int` "
        "cents, `Decimal` rates, `date`, `Invoice`, `QuerySet[Invoice]`, `InvoiceTotals`.",
    )
