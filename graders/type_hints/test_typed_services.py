"""Grader of `type_hints`: mypy --strict is clean on every module of the kata, every function that runs is
annotated with the contract's types, and every `Any` says why it is there.

mypy runs once for the whole grader (a module-scoped fixture), with the project's `[tool.mypy]`
settings and the django-stubs plugin, on every Python file of the kata's folder (a helper module of the
learner's is checked with the rest) and on two probe modules of this grader's, which use the services
with the contract's types (mypy must accept every line) and with wrong ones (mypy must report an error
on every line). Each run has a cache of its own, dropped after it: a shared cache reports a module it
finds unchanged with the errors and the path of the run that cached it, so a tree graded from another
folder (or a probe written to another temporary folder) would lose its findings. A cold run takes
about 2 s more. The same run reports every explicit `Any`, however it is spelled (`disallow_any_explicit`),
apart from what the project's settings find: the contract allows one in `parse_tax_rates()`'s parameter only.

mypy checks only what it analyses: a body under `if TYPE_CHECKING:`'s `else`, or behind a `.pyi` stub,
is never type-checked. The checks on the source itself (every function that runs is annotated, only
imports under TYPE_CHECKING, no stub files) close that gap.
"""

import ast
import dataclasses
import functools
import importlib
import importlib.util
import inspect
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tokenize
import tomllib
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from types import FunctionType, ModuleType

import mypy as mypy_package
import pytest
from django.db.models import QuerySet
from hypothesis import example, given
from hypothesis import strategies as st

from dojo import grading, paths
from dojo.grading import check, count_queries, read_source, shown
from dojo.scenarios import reference, rolled_back, scenarios
from type_hints.models import Invoice
from type_hints.services import InvoiceTotals, invoice_totals, open_balance_cents, overdue, parse_tax_rates, tax_cents

from .factories import CustomerFactory, InvoiceFactory, InvoiceLineFactory

MYPY_SECONDS = 120  # far above a cold run's few seconds, even on a busy machine
MYPY_SETTINGS = "graders.type_hints.mypy_settings"
BOUNDARY = "parse_tax_rates"  # receives the tax provider's decoded JSON: the module's one integration boundary
#: mypy's error code for an explicit `Any` (`disallow_any_explicit`), in an annotation, a cast or an alias
EXPLICIT_ANY = "explicit-any"
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
    ("tax_cents(10_000, 19)", "arg-type: tax_cents() takes its rate as a Decimal only: an int rate is refused too"),
    (
        'tax_cents(Decimal("10000.5"), rate)',
        "arg-type: tax_cents() takes its cents as an int only: Decimal cents are refused",
    ),
    ('tax_cents("10000", rate)', "arg-type: tax_cents() refuses cents given as a string"),
    ("tax_cents(10.5, rate)", "arg-type: tax_cents() refuses fractional cents (a float): cents are int"),
    ("tax_cents(None, rate)", "arg-type: tax_cents() refuses missing cents (None)"),
    ('invoice_totals(invoice, "19")', "arg-type: invoice_totals() refuses a rate given as a string"),
    ("invoice_totals(invoice, 19)", "arg-type: invoice_totals() takes its rate as a Decimal only, not an int"),
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
    #: each explicit `Any` mypy found in the kata's folder (its path and line), however it was spelled: the
    #: grader asks mypy for them beside the project's settings, and the check of those settings leaves them out
    explicit_any: tuple[tuple[Path, int], ...] = ()


def toml_value(value: object) -> str:
    """Strings, booleans and lists of strings, the only values the mypy settings use, as TOML."""
    return json.dumps(value)


def mypy_config(directory: Path, kata_root: Path) -> Path:
    """The project's `[tool.mypy]` settings, pointed at the graded tree and at this grader's Django settings,
    with a cache in `directory` (this run's own)."""
    project = tomllib.loads((paths.REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mypy"]
    settings = {key: value for key, value in project.items() if key not in ("files", "mypy_path", "overrides")}
    settings |= {"mypy_path": str(kata_root), "explicit_package_bases": True, "cache_dir": str(directory / "cache")}
    settings |= {"disallow_any_explicit": True}  # reported apart, as EXPLICIT_ANY: contract line 3 judges them
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
    findings, in_accepted, in_refused, other, explicit_any = [], [], [], [], []
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
        if entry["code"] == EXPLICIT_ANY:
            if where.is_relative_to(folder):
                explicit_any.append((where, int(entry["line"])))
        elif where == accepted.resolve():
            in_accepted.append(finding)
        elif where == refused.resolve():
            in_refused.append(finding)
        elif where.is_relative_to(folder):
            findings.append(finding)
    failure = "" if completed.returncode in (0, 1) else "\n".join([*other, completed.stderr.strip()]).strip()
    return MypyRun(
        findings=tuple(findings),
        accepted=tuple(in_accepted),
        refused=tuple(in_refused),
        failure=failure,
        explicit_any=tuple(explicit_any),
    )


def comments_by_line(source: str) -> dict[int, str]:
    return {
        token.start[0]: token.string
        for token in tokenize.generate_tokens(io.StringIO(source).readline)
        if token.type == tokenize.COMMENT
    }


#: calls whose first argument names a type variable, not an alias: `_F = TypeVar("_F", bound=Callable[..., Any])`
TYPE_VARIABLES = frozenset({"TypeVar", "ParamSpec", "TypeVarTuple"})


def module_aliases(tree: ast.Module) -> list[tuple[str, ast.expr]]:
    """The module-level assignments that can be type aliases: `Json = Any`, `P: TypeAlias = ...`, `type J = Any`."""
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
        called = value.func if isinstance(value, ast.Call) else None
        if isinstance(called, ast.Name | ast.Attribute) and ast.unparse(called).split(".")[-1] in TYPE_VARIABLES:
            continue
        if isinstance(target, ast.Name):
            aliases.append((target.id, value))
    return aliases


def stub_path(module: str) -> Path | None:
    """The stub mypy reads for a library module: typeshed's for the standard library, then a `<package>-stubs`
    package's, then the package's own `.pyi`."""
    top, *rest = module.split(".")
    places = [Path(mypy_package.__file__).parent / "typeshed" / "stdlib" / top]
    places += [Path(entry) / f"{top}-stubs" for entry in sys.path] + [Path(entry) / top for entry in sys.path]
    for place in places:
        base = place.joinpath(*rest)
        for candidate in (base.with_suffix(".pyi"), base / "__init__.pyi"):
            if candidate.is_file():
                return candidate
    return None


#: the modules that define `Any` itself
TYPING = frozenset({"typing", "typing_extensions"})


@functools.cache
def stub_any_names(module: str) -> frozenset[str]:
    """The names under which a library module's stub offers `Any`: `typing.Any`, and the stub's own aliases
    of it, such as `_typeshed.Incomplete`, which mypy reads as `Any` and reports nowhere."""
    if module in TYPING:
        return frozenset({"Any"})
    path = stub_path(module)
    if path is None:
        return frozenset()
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return frozenset()
    return frozenset(any_names(tree, module, library=True) - {"Any"})


def any_names(
    tree: ast.Module, package: str, folder: dict[str, set[str]] | None = None, library: bool = False
) -> set[str]:
    """The names `Any` goes by in a module of `package`: `Any`, the names it was imported as, module-level
    aliases whose value mentions it (`Json = Any`, `Payload: TypeAlias = dict[str, Any]`, `type J = Any`),
    the aliases of it imported from a library's stub (`from _typeshed import Incomplete`,
    `_typeshed.Incomplete`) and those imported from the kata's other modules (`folder`: their names, by
    module). A `library` stub's imports are followed to `typing` only, and its aliases count when they are
    `Any` itself (`Incomplete: TypeAlias = Any`), not when they hold it (`Callable[..., Any]`)."""
    folder = folder or {}
    names = {"Any"}

    def offered(source: str) -> set[str] | frozenset[str]:
        if library:
            return stub_any_names(source) if source in TYPING else frozenset()
        return folder[source] if source in folder else stub_any_names(source)

    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            try:
                source = importlib.util.resolve_name("." * node.level + (node.module or ""), package)
            except (ImportError, ValueError):
                continue
            for alias in node.names:
                local = alias.asname or alias.name
                if alias.name in offered(source):
                    names.add(local)
                if f"{source}.{alias.name}" in folder:  # `from . import kinds`: kinds.Json
                    names |= {f"{local}.{name}" for name in folder[f"{source}.{alias.name}"]}
        elif isinstance(node, ast.Import):
            for alias in node.names:
                local = alias.asname or alias.name
                names |= {f"{local}.{name}" for name in offered(alias.name)}
    aliases = module_aliases(tree)
    grown = True
    while grown:  # an alias of an alias of Any is Any too
        grown = False
        for name, value in aliases:
            if name not in names and (is_any(value, names) if library else mentions_any(value, names)):
                names.add(name)
                grown = True
    return names


def folder_any_names(modules: list[tuple[Path, str, ast.Module]]) -> dict[Path, set[str]]:
    """`any_names()` of each of the kata's modules, with the aliases of `Any` they import from each other."""
    dotted = {path: module_name(path) for path, _, _ in modules}
    folder: dict[str, set[str]] = {}
    grown = True
    while grown:  # `kinds.py` defines an alias of Any, `services.py` imports it, a third module imports that
        grown = False
        for path, _, tree in modules:
            package = dotted[path] if path.name == "__init__.py" else dotted[path].rpartition(".")[0]
            names = any_names(tree, package, folder)
            if names != folder.get(dotted[path]):
                folder[dotted[path]] = names
                grown = True
    return {path: folder[dotted[path]] for path in dotted}


def is_any(node: ast.AST, names: set[str]) -> bool:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):  # a string annotation: "Any", "dict[str, Any]"
        try:
            parsed = ast.parse(node.value, mode="eval")
        except SyntaxError:
            return False
        return mentions_any(parsed.body, names)
    if isinstance(node, ast.Attribute):  # typing.Any, t.Any, _typeshed.Incomplete, kinds.Json
        return node.attr == "Any" or ast.unparse(node) in names
    return isinstance(node, ast.Name) and node.id in names


def mentions_any(node: ast.AST | None, names: set[str]) -> bool:
    return node is not None and any(is_any(child, names) for child in ast.walk(node))


def says_why(comment: str | None) -> bool:
    """A comment with a reason in it: at least two words once pragmas like `# type: ignore` are left out."""
    if comment is None:
        return False
    text = re.sub(r"#\s*(type:\s*ignore(\[[^\]]*\])?|noqa(:\s*[A-Z0-9, ]+)?)", " ", comment)
    text = re.sub(r"^[#\s]*Any\s*:", "", text.strip())
    return len(re.findall(r"[A-Za-z]{2,}", text)) >= 2


@dataclass(frozen=True)
class TypeUse:
    """Where the source names a type: a signature, a field, a variable's annotation, the type of a cast()."""

    where: str  # in words: `tax_cents(rate_percent)`, `a variable total in open_balance_cents()`
    node: ast.expr
    boundary: bool  # a parameter of parse_tax_rates(), where the provider's JSON enters


def type_uses(tree: ast.Module) -> Iterator[TypeUse]:
    """Every type the module's source names, with where it is: the parameters and return values of every
    function, the fields of every class, the annotation of every variable, and the type of every cast()."""

    def visit(node: ast.AST, inside: str) -> Iterator[TypeUse]:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            arguments = node.args
            every = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs, arguments.vararg, arguments.kwarg]
            for argument in every:
                if argument is not None and argument.annotation is not None:
                    yield TypeUse(f"{node.name}({argument.arg})", argument.annotation, node.name == BOUNDARY)
            if node.returns is not None:
                yield TypeUse(f"{node.name}() -> return", node.returns, False)
            inside = f"{node.name}()"
        elif isinstance(node, ast.ClassDef):
            for statement in node.body:
                if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
                    yield TypeUse(f"{node.name}.{statement.target.id}", statement.annotation, False)
            inside = f"class {node.name}"
        elif isinstance(node, ast.AnnAssign) and not inside.startswith("class "):
            yield TypeUse(f"a variable {ast.unparse(node.target)} in {inside}", node.annotation, False)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name | ast.Attribute)
            and ast.unparse(node.func).split(".")[-1] == "cast"
        ):
            typed = node.args[:1] or [keyword.value for keyword in node.keywords if keyword.arg == "typ"]
            yield from (TypeUse(f"cast() in {inside}", target, False) for target in typed)
        for child in ast.iter_child_nodes(node):
            yield from visit(child, inside)

    yield from visit(tree, "the module")


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


def queries_of(call: Callable[[], object]) -> int:
    with count_queries() as log:
        call()
    return len(log.statements)


@pytest.mark.guard("PY-2")
@pytest.mark.contract(8)
@pytest.mark.django_db
@pytest.mark.timeout(60)  # generated examples: the default 10 s is for one scenario
@scenarios(15)
@given(
    lines=st.lists(st.tuples(st.integers(1, 50), st.integers(0, 100_000)), min_size=1, max_size=3),
    more_lines=st.lists(st.tuples(st.integers(1, 50), st.integers(0, 100_000)), min_size=1, max_size=4),
    invoices=st.lists(
        st.tuples(st.integers(-3, 3), st.sampled_from(list(Invoice.Status)), st.integers(0, 10**6)),
        min_size=1,
        max_size=3,
    ),
    more_invoices=st.lists(
        st.tuples(st.integers(-3, 3), st.sampled_from(list(Invoice.Status)), st.integers(0, 10**6)),
        min_size=1,
        max_size=4,
    ),
)
def test_no_query_per_line_or_invoice(
    lines: list[tuple[int, int]],
    more_lines: list[tuple[int, int]],
    invoices: list[tuple[int, str, int]],
    more_invoices: list[tuple[int, str, int]],
) -> None:
    from type_hints import services

    today = date(2026, 3, 3)
    with rolled_back():
        invoice = InvoiceFactory.create()
        customer = CustomerFactory.create()
        queryset = Invoice.objects.filter(customer=customer)
        counts: list[tuple[int, int, int]] = []
        for added_lines, added_invoices in ((lines, invoices), (more_lines, more_invoices)):
            for quantity, unit_price_cents in added_lines:
                InvoiceLineFactory.create(invoice=invoice, quantity=quantity, unit_price_cents=unit_price_cents)
            for days, status, cents in added_invoices:
                InvoiceFactory.create(
                    customer=customer, due_on=today + timedelta(days=days), status=status, amount_due_cents=cents
                )
            counts.append(
                (
                    queries_of(lambda: services.invoice_totals(Invoice.objects.get(pk=invoice.pk), Decimal("19"))),
                    queries_of(lambda: list(services.overdue(queryset, today))),
                    queries_of(lambda: services.open_balance_cents(queryset)),
                )
            )
    (few, many) = counts
    grown = [
        f"  {call}: {before} quer{'y' if before == 1 else 'ies'} for {small}, {after} for {large}"
        for call, before, after, small, large in (
            ("invoice_totals()", few[0], many[0], f"{len(lines)} line(s)", f"{len(lines) + len(more_lines)}"),
            ("overdue()", few[1], many[1], f"{len(invoices)} invoice(s)", f"{len(invoices) + len(more_invoices)}"),
            (
                "open_balance_cents()",
                few[2],
                many[2],
                f"{len(invoices)} invoice(s)",
                f"{len(invoices) + len(more_invoices)}",
            ),
        )
        if after > before
    ]
    check(
        not grown,
        "The number of queries grows with the number of rows:\n"
        + "\n".join(grown)
        + "\nThat is an N+1: a query per line or per invoice (a SUM or a lookup for each row) where one query "
        "for all of them does the job, as the module as it was did. Typing the module must not change how it "
        "reads the database; the standard's rule Avoid N+1 queries (PERF-2, "
        f"{paths.SITE_URL}/rules/perf-2/) holds in every kata. Add up the rows in one query, or from rows "
        "already fetched.",
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


def module_name(path: Path) -> str:
    """The dotted name a module of the kata's folder is imported under (`type_hints.services`)."""
    folder = grading.kata_dir("type_hints")
    parts = path.relative_to(folder).with_suffix("").parts
    return ".".join(["type_hints", *(parts[:-1] if parts[-1] == "__init__" else parts)])


def runs_from_the_folder(function: FunctionType) -> bool:
    folder = grading.kata_dir("type_hints").resolve()
    return Path(function.__code__.co_filename).resolve().is_relative_to(folder)


def functions_that_run(module: ModuleType) -> Iterator[tuple[str, FunctionType]]:
    """The functions a module binds at run time: its own names (a lambda, a function built by exec() or
    picked in a branch mypy skips included) and the methods written in its classes."""
    for name, value in vars(module).items():
        if isinstance(value, FunctionType) and value.__module__ == module.__name__:
            yield name, value
        elif isinstance(value, type) and value.__module__ == module.__name__:
            for attribute, member in vars(value).items():
                inner = member.__func__ if isinstance(member, staticmethod | classmethod) else member
                if isinstance(inner, property):
                    inner = inner.fget
                if isinstance(inner, FunctionType) and runs_from_the_folder(inner):
                    yield f"{name}.{attribute}", inner


def missing_at_run_time(function: FunctionType) -> list[str]:
    """The parameters (but `self` and `cls`) and the return value that carry no annotation as the function runs."""
    signature = inspect.signature(function)
    missing = [
        parameter.name
        for position, parameter in enumerate(signature.parameters.values())
        if parameter.annotation is inspect.Parameter.empty and not (position == 0 and parameter.name in ("self", "cls"))
    ]
    if signature.return_annotation is inspect.Signature.empty:
        missing.append("the return value")
    return missing


@pytest.mark.lesson("PY-2")
@pytest.mark.contract(1, 5, 7)
def test_the_functions_that_run_are_the_annotated_ones() -> None:
    missing: list[str] = []
    for path in module_paths():
        module = importlib.import_module(module_name(path))
        missing += [
            f"  {module.__name__}.{name}(): {', '.join(absent)}"
            for name, function in functions_that_run(module)
            if (absent := missing_at_run_time(function))
        ]
    check(
        not missing,
        f"As Python runs {folder_shown()}, these functions have parameters or return values without a type:\n"
        + "\n".join(missing)
        + "\nmypy checks the definitions it reads; if the functions that run are others (a lambda, a branch "
        "mypy takes as always true or always false, such as `if MYPY:` or `if TYPE_CHECKING:`, a function "
        "built at run time), the code that runs is checked by nothing. Define each function once, "
        "annotated, with `def`.",
    )


#: what the README's contract declares, parameter by parameter and for the return value, as Python sees it
#: at run time (Django's `QuerySet[Invoice]` is `QuerySet` there; mypy's probes check the type argument)
DECLARED: dict[str, tuple[tuple[str, object], ...]] = {
    "tax_cents": (("net_cents", int), ("rate_percent", Decimal), ("return", int)),
    "invoice_totals": (("invoice", Invoice), ("rate_percent", Decimal), ("return", InvoiceTotals)),
    "overdue": (("invoices", QuerySet[Invoice]), ("today", date), ("return", QuerySet[Invoice])),
    "open_balance_cents": (("invoices", QuerySet[Invoice]), ("return", int)),
    "parse_tax_rates": (("return", dict[str, Decimal]),),
}
FIELDS: tuple[tuple[str, object], ...] = (("net_cents", int), ("tax_cents", int), ("gross_cents", int))


def type_checking_names(module: ModuleType) -> dict[str, object]:
    """What the module imports under `if TYPE_CHECKING:` (or `if MYPY:`), imported for real where it can be,
    so that a string annotation naming one of them can be read at run time."""
    names: dict[str, object] = {}
    source = read_source(Path(module.__file__ or ""))
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.If) and type_checking_test(node.test):
            for statement in node.body:
                if isinstance(statement, ast.Import | ast.ImportFrom):
                    space: dict[str, object] = {"__name__": module.__name__, "__package__": module.__package__}
                    try:
                        exec(compile(ast.Module([statement], []), "<imports>", "exec"), space)  # noqa: S102
                    except ImportError:
                        continue
                    names |= {name: value for name, value in space.items() if not name.startswith("__")}
    return names


def declared_types(owner: object, module: ModuleType) -> dict[str, object] | str:
    """The annotations of a function or class as Python reads them, or why they cannot be read."""
    try:
        return typing.get_type_hints(owner, localns=type_checking_names(module))
    except Exception as error:  # a name that exists only for mypy (`_typeshed.Incomplete`), a typo
        return f"its annotations cannot be read at run time ({type(error).__name__}: {error})"


def shown_type(value: object) -> str:
    return value.__qualname__ if isinstance(value, type) else repr(value).replace("typing.", "")


@pytest.mark.lesson("PY-2")
@pytest.mark.contract(2)
def test_the_functions_that_run_declare_the_contracts_types() -> None:
    from type_hints import services

    wrong: list[str] = []
    for name, declared in DECLARED.items():
        function = getattr(services, name, None)
        if function is None:
            wrong.append(f"  {name}(): services.py has no such function")
            continue
        hints = declared_types(function, services)
        if isinstance(hints, str):
            wrong.append(f"  {name}(): {hints}")
            continue
        wrong += [
            f"  {name}(): {'returns' if what == 'return' else what + ':'} {shown_type(hints.get(what))}, "
            f"where the README says {shown_type(expected)}"
            for what, expected in declared
            if hints.get(what) != expected
        ]
    fields = declared_types(services.InvoiceTotals, services)
    if isinstance(fields, str):
        wrong.append(f"  InvoiceTotals: {fields}")
    else:
        wrong += [
            f"  InvoiceTotals.{field}: {shown_type(fields.get(field))}, where the README says {shown_type(expected)}"
            for field, expected in FIELDS
            if fields.get(field) != expected
        ]
    check(
        not wrong,
        "The functions that run do not declare the types the README's contract names:\n"
        + "\n".join(wrong)
        + "\nA type wider than the real one (`Decimal | int`, `float`, `object`) lets a wrong value in where "
        "the contract promises one type, and a definition that mypy reads but that does not run (under "
        "`if MYPY:`, a name that exists only for the type checker) hides what runs. Declare each "
        "parameter, return value and field with the contract's type, exactly, on the code that runs.",
    )


#: names that mypy takes as always true, whatever their value at run time
TYPE_CHECKER_NAMES = frozenset({"TYPE_CHECKING", "MYPY"})


def type_checking_test(node: ast.expr) -> bool:
    """An `if` test that only a type checker sees as true (or false): TYPE_CHECKING, MYPY, `False`, `0`."""
    names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} | {
        n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)
    }
    constant = isinstance(node, ast.Constant) and not node.value
    return bool(names & TYPE_CHECKER_NAMES) or constant


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
    modules = parsed_modules()
    any_by_module = folder_any_names(modules)
    for path, source, tree in modules:
        imports = {
            line
            for node in ast.walk(tree)
            if isinstance(node, ast.Import | ast.ImportFrom)
            for line in range(node.lineno, (node.end_lineno or node.lineno) + 1)
        }
        names = any_by_module[path]
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


def boundary_lines(modules: list[tuple[Path, str, ast.Module]]) -> dict[Path, set[int]]:
    """The lines where `Any` may be written: `parse_tax_rates()`'s parameters (mypy reports an `Any` of a
    signature on the line of its `def`), and a module-level alias that one of them names (`Payload =
    dict[str, Any]`, then `payload: Payload`)."""
    lines: dict[Path, set[int]] = {path: set() for path, _, _ in modules}
    named: set[str] = set()
    for path, _, tree in modules:
        lines[path] |= {
            line
            for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == BOUNDARY
            for line in (node.lineno, *(decorator.lineno for decorator in node.decorator_list))
        }
        for use in type_uses(tree):
            if use.boundary:
                lines[path] |= set(range(use.node.lineno, (use.node.end_lineno or use.node.lineno) + 1))
                named |= {
                    ast.unparse(node).split(".")[-1]
                    for node in ast.walk(use.node)
                    if isinstance(node, ast.Name | ast.Attribute)
                }
                named |= {
                    node.value
                    for node in ast.walk(use.node)
                    if isinstance(node, ast.Constant) and isinstance(node.value, str)
                }
    for path, _, tree in modules:
        for statement in tree.body:
            targets = (
                statement.targets
                if isinstance(statement, ast.Assign)
                else [statement.target]
                if isinstance(statement, ast.AnnAssign)
                else [statement.name]
                if isinstance(statement, ast.TypeAlias)
                else []
            )
            if any(isinstance(target, ast.Name) and target.id in named for target in targets):
                lines[path] |= set(range(statement.lineno, (statement.end_lineno or statement.lineno) + 1))
    return lines


@pytest.mark.guard("PY-2")
@pytest.mark.contract(3)
@pytest.mark.timeout(MYPY_SECONDS)
def test_any_only_at_the_integration_boundary(mypy_run: MypyRun) -> None:
    check(not mypy_run.failure, f"mypy could not check {folder_shown()}:\n{mypy_run.failure}")
    modules = parsed_modules()
    any_by_module = folder_any_names(modules)
    sources = {path: source.splitlines() for path, source, _ in modules}
    loose: dict[tuple[Path, int], str] = {}
    for path, _, tree in modules:
        for use in type_uses(tree):
            if not use.boundary and mentions_any(use.node, any_by_module[path]):
                loose.setdefault((path, use.node.lineno), use.where)
    allowed = boundary_lines(modules)
    for path, line in mypy_run.explicit_any:  # however it is spelled, as mypy reads it
        if line not in allowed.get(path, set()):
            loose.setdefault((path, line), "`Any`, as mypy reads it")
    listed = "\n".join(
        f"  {shown(path)}:{line}  {where}: {sources[path][line - 1].strip() if path in sources else ''}"
        for (path, line), where in sorted(loose.items())
    )
    check(
        not loose,
        f"These lines of {folder_shown()} use `Any` where the types are known:\n{listed}\n"
        "`Any` passes mypy and checks nothing, whatever it annotates (a parameter, a return value, a field, "
        "a variable), in a `cast()`, through an alias of your own or of a library (`_typeshed.Incomplete`), "
        f"or in a string; a comment does not change that. Only `{BOUNDARY}()`'s parameter receives untyped "
        "data (the tax provider's JSON). Everything else has a real type: `int` cents, `Decimal` rates, "
        "`date`, `Invoice`, `QuerySet[Invoice]`, `InvoiceTotals`; a value the ORM hands back untyped "
        '(an aggregate) gets its type where it enters, `total: int | None = totals["total"]`.',
    )
