"""Grader of `type_hints`: mypy --strict is clean on services.py, and every `Any` says why it is there.

mypy runs once for the whole grader (a module-scoped fixture), with the project's `[tool.mypy]`
settings and the django-stubs plugin, on the tree being graded. Its cache lives in `.mypy_cache/`, so
only the first run on a fresh clone pays for analysing Django's stubs.
"""

import ast
import fcntl
import io
import json
import os
import re
import subprocess
import sys
import tokenize
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from dojo import grading, paths
from dojo.grading import check, read_source, shown
from type_hints.models import Invoice
from type_hints.services import InvoiceTotals, invoice_totals, open_balance_cents, overdue, parse_tax_rates, tax_cents

from .factories import CustomerFactory, InvoiceFactory, InvoiceLineFactory

MYPY_CACHE = paths.REPO / ".mypy_cache" / "dojo-graders"
MYPY_SECONDS = 120  # a first run on a fresh clone analyses Django's stubs; later runs read the cache
MYPY_SETTINGS = "graders.type_hints.mypy_settings"
BOUNDARY = "parse_tax_rates"  # receives the tax provider's decoded JSON: the module's one integration boundary
SWITCHES = re.compile(r"#\s*(type:\s*ignore\b|mypy:|ruff:\s*noqa\b|noqa\b(?!:)|noqa:.*\bANN)", re.IGNORECASE)


def services_path() -> Path:
    return grading.kata_dir("type_hints") / "services.py"


@dataclass(frozen=True)
class MypyFinding:
    line: int
    message: str
    code: str | None

    def __str__(self) -> str:
        return f"  line {self.line}: {self.message}" + (f"  [{self.code}]" if self.code else "")


@dataclass(frozen=True)
class MypyRun:
    findings: tuple[MypyFinding, ...]
    failure: str  # what mypy printed when it could not check the file at all; empty otherwise


def toml_value(value: object) -> str:
    """Strings, booleans and lists of strings, the only values the mypy settings use, as TOML."""
    return json.dumps(value)


def mypy_config(directory: Path, kata_root: Path) -> Path:
    """The project's `[tool.mypy]` settings, pointed at the graded tree and at this grader's Django settings."""
    project = tomllib.loads((paths.REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mypy"]
    settings = {key: value for key, value in project.items() if key not in ("files", "mypy_path", "overrides")}
    settings |= {"mypy_path": str(kata_root), "explicit_package_bases": True, "cache_dir": str(MYPY_CACHE)}
    lines = ["[tool.mypy]", *(f"{key} = {toml_value(value)}" for key, value in settings.items())]
    lines += ["", "[tool.django-stubs]", f"django_settings_module = {toml_value(MYPY_SETTINGS)}"]
    config = directory / "mypy.toml"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return config


@contextmanager
def exclusive(lock: Path) -> Iterator[None]:
    """Hold a lock file, so that two gradings running at once never use mypy's cache together."""
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@pytest.fixture(scope="module")
def mypy_run(tmp_path_factory: pytest.TempPathFactory) -> MypyRun:
    target = services_path()
    kata_root = target.parent.parent.resolve()
    config = mypy_config(tmp_path_factory.mktemp("mypy"), kata_root)
    # mypy's Django plugin imports the kata through dojo.settings, which writes no bytecode into the tree
    env = {**os.environ, "DOJO_KATA_ROOT": str(kata_root)}
    with exclusive(MYPY_CACHE.with_suffix(".lock")):  # gradings of other trees share the cache
        completed = subprocess.run(  # noqa: S603 - our own interpreter running mypy on the kata
            [sys.executable, "-m", "mypy", "--config-file", str(config), "--output", "json", str(target)],
            cwd=paths.REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=MYPY_SECONDS - 5,
            check=False,
        )
    findings, other = [], []
    for line in completed.stdout.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            other.append(line)
            continue
        if Path(entry["file"]).resolve().parent == target.parent.resolve() and entry["severity"] == "error":
            findings.append(MypyFinding(line=entry["line"], message=entry["message"], code=entry["code"]))
    failure = "" if completed.returncode in (0, 1) else "\n".join([*other, completed.stderr.strip()]).strip()
    return MypyRun(findings=tuple(findings), failure=failure)


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


def test_tax_is_rounded_half_up_to_the_cent() -> None:
    assert tax_cents(10_000, Decimal("19")) == 1_900
    assert tax_cents(250, Decimal("7")) == 18  # 17.5 cents
    assert tax_cents(249, Decimal("7")) == 17  # 17.43 cents
    assert tax_cents(0, Decimal("20")) == 0


def test_tax_rates_are_read_from_the_providers_table() -> None:
    payload = {
        "as_of": "2026-01-01",
        "rates": [{"country": "DE", "rate": "19.0"}, {"country": "AT", "rate": 20}, {"country": "LU", "rate": 17}],
    }

    assert parse_tax_rates(payload) == {"DE": Decimal("19.0"), "AT": Decimal("20"), "LU": Decimal("17")}


@pytest.mark.django_db
def test_invoice_totals_add_the_lines_and_their_tax() -> None:
    invoice = InvoiceFactory()
    InvoiceLineFactory(invoice=invoice, quantity=3, unit_price_cents=1_250)
    InvoiceLineFactory(invoice=invoice, quantity=1, unit_price_cents=999)
    InvoiceLineFactory(quantity=5)  # another invoice's line

    assert invoice_totals(invoice, Decimal("19")) == InvoiceTotals(net_cents=4_749, tax_cents=902, gross_cents=5_651)
    assert invoice_totals(InvoiceFactory(), Decimal("19")) == InvoiceTotals(0, 0, 0)


@pytest.mark.django_db
def test_overdue_lists_open_invoices_due_before_the_day_oldest_first() -> None:
    customer = CustomerFactory()
    late = InvoiceFactory(customer=customer, due_on=date(2026, 3, 2), number="INV-B")
    later = InvoiceFactory(customer=customer, due_on=date(2026, 2, 27))
    same_day = InvoiceFactory(customer=customer, due_on=date(2026, 3, 2), number="INV-A")
    InvoiceFactory(customer=customer, due_on=date(2026, 3, 3))  # due today: not overdue yet
    InvoiceFactory(customer=customer, due_on=date(2026, 1, 1), status=Invoice.Status.PAID)

    found = list(overdue(Invoice.objects.filter(customer=customer), date(2026, 3, 3)))

    assert found == [later, same_day, late]


@pytest.mark.django_db
def test_open_balance_sums_what_the_open_invoices_owe() -> None:
    customer = CustomerFactory()
    InvoiceFactory(customer=customer, amount_due_cents=11_900)
    InvoiceFactory(customer=customer, amount_due_cents=2_380)
    InvoiceFactory(customer=customer, amount_due_cents=5_000, status=Invoice.Status.PAID)
    InvoiceFactory(amount_due_cents=7_000)  # another customer's invoice

    assert open_balance_cents(Invoice.objects.filter(customer=customer)) == 14_280
    assert open_balance_cents(Invoice.objects.none()) == 0


# ---- the lesson ----------------------------------------------------------------------------------------------


@pytest.mark.lesson("PY-2")
@pytest.mark.timeout(MYPY_SECONDS)
def test_mypy_strict_is_clean(mypy_run: MypyRun) -> None:
    target = shown(services_path())
    check(not mypy_run.failure, f"mypy could not check {target}:\n{mypy_run.failure}")
    listed = "\n".join(str(finding) for finding in mypy_run.findings[:15])
    more = f"\n  ... and {len(mypy_run.findings) - 15} more" if len(mypy_run.findings) > 15 else ""
    check(
        not mypy_run.findings,
        f"mypy --strict (with the django-stubs plugin, as CI runs it) finds {len(mypy_run.findings)} "
        f"problem(s) in {target}:\n{listed}{more}\n"
        "mypy does not check code without annotations: a caller can pass a rate as a string, or euros "
        "where cents are due, and nothing complains before production. Annotate every parameter and "
        "every return value with the real type: `int` for cents, `Decimal` for rates, `date`, "
        "`Invoice`, `QuerySet[Invoice]` (from django.db.models). Each finding left after that is a "
        "place where the types don't add up: fix the code or the annotation, don't silence it.",
    )


@pytest.mark.lesson("PY-2")
def test_every_any_says_why() -> None:
    path = services_path()
    source = read_source(path)
    tree = ast.parse(source)
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
    silent = [line for line in sorted(used - imports) if not says_why(comments.get(line))]
    check(
        not silent,
        f"`Any` switches mypy off for a value, and {shown(path)} uses it without saying why:\n"
        + "\n".join(f"  line {line}: {lines[line - 1].strip()}" for line in silent)
        + "\nThe standard allows `Any` only at an integration boundary (the ORM, a third-party library's "
        "untyped data), with a comment on the same line that says which boundary and where the value "
        "becomes a real type, e.g. `# Any: the provider's decoded JSON; narrowed below`. Where you can "
        "name the type, use the type instead.",
    )


@pytest.mark.lesson("PY-2")
def test_no_check_is_switched_off() -> None:
    path = services_path()
    source = read_source(path)
    switches = [
        f"  line {line}: {comment.strip()}"
        for line, comment in sorted(comments_by_line(source).items())
        if SWITCHES.search(comment)
    ]
    tree = ast.parse(source)
    no_type_check = {"no_type_check"} | {
        alias.asname
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
        if alias.name in ("no_type_check", "no_type_check_decorator") and alias.asname
    }
    switches += [
        f"  line {node.lineno}: @no_type_check"
        for node in ast.walk(tree)
        if (isinstance(node, ast.Name) and node.id in no_type_check)
        or (isinstance(node, ast.Attribute) and node.attr == "no_type_check")
    ]
    check(
        not switches,
        f"{shown(path)} turns checks off instead of passing them:\n"
        + "\n".join(switches)
        + "\nThis module needs none of them once it is typed: `# ruff: noqa: ANN…` hides the missing "
        "annotations from ruff, and `# type: ignore`, `# mypy: …` or @no_type_check hide errors from "
        "mypy. Remove them, and let the annotations make both tools pass.",
    )


@pytest.mark.guard("PY-2")
def test_any_only_at_the_integration_boundary() -> None:
    path = services_path()
    tree = ast.parse(read_source(path))
    names = any_names(tree)
    loose = [
        where
        for where, annotation in annotations_of(tree)
        if not where.startswith(f"{BOUNDARY}(") and mentions_any(annotation, names)
    ]
    check(
        not loose,
        f"These annotations in {shown(path)} use `Any` where our own types are known: {', '.join(loose)}.\n"
        f"`Any` passes mypy and checks nothing; a comment does not change that. Only `{BOUNDARY}()` "
        "receives untyped data (the tax provider's JSON). Everything else has a real type: `int` "
        "cents, `Decimal` rates, `date`, `Invoice`, `QuerySet[Invoice]`, `InvoiceTotals`.",
    )
