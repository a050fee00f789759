"""Grader of `raw_sql_injection`: a search term is only text to look for, and no SQL is built from values."""

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.db import DatabaseError, transaction

from dojo import paths
from dojo.grading import check
from raw_sql_injection import services
from raw_sql_injection.models import Invoice, Organization
from raw_sql_injection.services import SEARCH_LIMIT, InvoiceHit, search_invoices

from .factories import CustomerFactory, InvoiceFactory, OrganizationFactory

pytestmark = pytest.mark.django_db

HOSTILE_TERMS = {
    "x')) OR 1=1 --": "closes the condition, adds one that is always true and comments out the rest",
    "%')) UNION SELECT c.name, c.email, i.issued_on, i.total_cents FROM raw_sql_injection_customer c "
    "JOIN raw_sql_injection_invoice i ON i.customer_id = c.id --": "appends a query for every customer's email",
    "' OR '1'='1": "turns the condition into an OR",
}


@dataclass(frozen=True)
class Platform:
    """Two organizations and every invoice the test created; searches run for `ours`."""

    ours: Organization
    invoices: list[Invoice]


def platform() -> Platform:
    ours, theirs = OrganizationFactory(name="Northwind"), OrganizationFactory(name="Globex")
    invoices = [
        *InvoiceFactory.create_batch(3, customer=CustomerFactory(organization=ours, name="Acme Corp")),
        *InvoiceFactory.create_batch(2, customer=CustomerFactory(organization=ours, name="O'Brien & Sons")),
        *InvoiceFactory.create_batch(2, customer=CustomerFactory(organization=ours, name="Initech")),
        *InvoiceFactory.create_batch(3, customer=CustomerFactory(organization=theirs, name="Acme Ltd")),
    ]
    return Platform(ours=ours, invoices=invoices)


def expected(platform: Platform, term: str) -> list[InvoiceHit]:
    """What the search must return, worked out from the invoices the test created."""
    needle = term.upper()
    found = [
        invoice
        for invoice in platform.invoices
        if invoice.customer.organization_id == platform.ours.pk
        and (needle in invoice.number.upper() or needle in invoice.customer.name.upper())
    ]
    found.sort(key=lambda invoice: (invoice.issued_on, invoice.number), reverse=True)
    return [
        InvoiceHit(
            number=invoice.number,
            customer_name=invoice.customer.name,
            issued_on=invoice.issued_on,
            total_cents=invoice.total_cents,
        )
        for invoice in found[:SEARCH_LIMIT]
    ]


def search(platform: Platform, term: str) -> list[InvoiceHit] | str:
    """The search's result, or the database error it raised, in words."""
    try:
        with transaction.atomic():  # on PostgreSQL, a failed query must not break the test's transaction
            return search_invoices(platform.ours.pk, term)
    except DatabaseError as error:
        return f"{type(error).__name__}: {str(error).strip().splitlines()[0]}"


def described(result: list[InvoiceHit] | str) -> str:
    if isinstance(result, str):
        return f"failed with {result}"
    return f"returned {len(result)} invoice(s): {[hit.number for hit in result]}"


def test_search_finds_invoices_by_number_or_customer_name() -> None:
    world = platform()
    theirs = world.invoices[-1]
    terms = ["acme", "ACME CORP", "inItech", world.invoices[4].number, theirs.number, "INV-", "", "nobody"]

    for term in terms:
        result = search_invoices(world.ours.pk, term)
        assert result == expected(world, term), (
            f"Searching for {term!r} {described(result)}. The search must return the organization's invoices "
            "whose number or customer name contains the term, ignoring case, newest first."
        )


def test_search_returns_the_newest_invoices_first_up_to_the_limit() -> None:
    world = platform()
    customer = CustomerFactory(organization=world.ours, name="Umbrella")
    world.invoices.extend(InvoiceFactory.create_batch(SEARCH_LIMIT + 5, customer=customer))
    world.invoices.extend(InvoiceFactory.create_batch(3, customer=customer, issued_on=world.invoices[-1].issued_on))

    result = search_invoices(world.ours.pk, "umbrella")

    assert result == expected(world, "umbrella"), (
        f"The search must return the newest {SEARCH_LIMIT} matching invoices, by issue date then number, newest first."
    )


@pytest.mark.lesson("DJ-4")
def test_a_quote_in_a_search_term_is_just_a_character() -> None:
    world = platform()

    for term in ["O'Brien", "o'brien & sons"]:
        result = search(world, term)
        wanted = expected(world, term)
        check(
            result == wanted,
            f"Searching for {term!r} must find the {len(wanted)} invoices of O'Brien & Sons; it {described(result)}. "
            "The quote in the term ended the SQL string literal it was pasted into, and the rest of the term "
            "became SQL. Send the term to the database as a value, never inside the SQL text: through the "
            "ORM (`.filter(customer__name__icontains=term)`), or as a query parameter "
            "(`cursor.execute(sql, [value])` with a `%s` placeholder in the SQL).",
        )


@pytest.mark.lesson("DJ-4")
def test_injected_sql_returns_nothing_extra() -> None:
    world = platform()
    theirs = {invoice.number for invoice in world.invoices if invoice.customer.organization_id != world.ours.pk}
    numbers = {invoice.number for invoice in world.invoices}

    problems = []
    for term, what in HOSTILE_TERMS.items():
        result = search(world, term)
        wanted = expected(world, term)
        if isinstance(result, str):
            problems.append(f"{term!r} ({what}) made the query fail: {result}")
        elif result != wanted:
            foreign = [hit for hit in result if hit.number in theirs]
            fake = [hit for hit in result if hit.number not in numbers]
            line = f"{term!r} ({what}) returned {len(result)} rows where {len(wanted)} contain the term"
            if foreign:
                line += f"; {len(foreign)} are invoices of another organization"
            if fake:
                line += f"; {len(fake)} are not invoices at all, e.g. {fake[0].number!r} / {fake[0].customer_name!r}"
            problems.append(line)

    check(
        not problems,
        "Search terms typed by a user changed the query instead of being searched for:\n- "
        + "\n- ".join(problems)
        + "\nA term pasted into SQL text becomes SQL: it can read other organizations' data, or anything the "
        "database user can read. Let the ORM build the query, or pass the term as a query parameter.",
    )


# --- the source of services.py: no SQL built from values -------------------------------------------

SINKS = {"execute", "executemany", "raw", "extra", "RawSQL"}
# SQL as we write it, in capitals: prose in messages ("select a plan from the list") is not SQL
SQL_LOOKING = re.compile(r"\b(SELECT\b.+\bFROM|INSERT INTO|UPDATE\b.+\bSET|DELETE FROM|WHERE|LIKE|UNION|JOIN)\b", re.S)


def _literal_text(node: ast.AST) -> str:
    return " ".join(n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str))


def _is_literal(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) or (
        isinstance(node, ast.JoinedStr) and not any(isinstance(v, ast.FormattedValue) for v in node.values)
    )


def _operands(node: ast.AST) -> list[ast.AST]:
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _operands(node.left) + _operands(node.right)
    return [node]


def built_from_values(node: ast.AST) -> str | None:
    """How `node` pastes values into a string, or None when it does not."""
    if isinstance(node, ast.JoinedStr) and any(isinstance(v, ast.FormattedValue) for v in node.values):
        return "an f-string"
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod) and not _is_literal(node.right):
        return "%-formatting"
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        parts = _operands(node)
        if any(not _is_literal(part) for part in parts) and any(_literal_text(part) for part in parts):
            return "concatenation (+)"
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        if node.func.attr == "format" and (node.args or node.keywords):
            return "str.format()"
        if node.func.attr == "join" and isinstance(node.func.value, ast.Constant):
            return "str.join()"
    return None


def sql_built_from_values(source: str) -> list[tuple[str, str, str]]:
    """(where, how, code) for each SQL text in `source` that is built from values."""
    tree = ast.parse(source)
    assigned: dict[str, list[ast.AST]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name):
                    assigned.setdefault(target.id, []).append(node.value)
        elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name) and not _is_literal(node.value):
            appended = ast.BinOp(ast.Name(node.target.id), ast.Add(), node.value)
            assigned.setdefault(node.target.id, []).append(ast.copy_location(appended, node))

    found: dict[int, tuple[str, ast.AST]] = {}
    for node in ast.walk(tree):
        how = built_from_values(node)
        text = _literal_text(node)
        if how and SQL_LOOKING.search(text):
            found.setdefault(node.lineno, (how, node))
        if isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            sql = node.args[0] if node.args else next((k.value for k in node.keywords if k.arg == "sql"), None)
            if name not in SINKS or sql is None:
                continue
            candidates = assigned.get(sql.id, []) if isinstance(sql, ast.Name) else [sql]
            for candidate in candidates:
                if how := built_from_values(candidate):
                    found.setdefault(candidate.lineno, (how, candidate))
    lines = source.splitlines()
    return [_shown(lines, how, node) for _line, (how, node) in sorted(found.items())]


def _shown(lines: list[str], how: str, node: ast.AST) -> tuple[str, str, str]:
    """Where values go into the string (the f-string's lines with values, or the first line), how, and the code."""
    pasted = sorted({n.lineno for n in ast.walk(node) if isinstance(n, ast.FormattedValue)}) or [node.lineno]
    where = f"line {pasted[0]}" if len(pasted) == 1 else f"lines {', '.join(map(str, pasted))}"
    return where, how, "\n      ".join(lines[number - 1].strip() for number in pasted)


@pytest.mark.lesson("DJ-4")
def test_no_sql_is_built_from_values() -> None:
    path = Path(services.__file__)
    findings = sql_built_from_values(path.read_text(encoding="utf-8"))

    shown = path.resolve().relative_to(paths.REPO) if path.resolve().is_relative_to(paths.REPO) else path
    check(
        not findings,
        f"{shown} builds SQL text out of values:\n"
        + "\n".join(f"  {where}, with {how}:\n      {code}" for where, how, code in findings)
        + "\nWhatever the value, and however it is escaped by hand (doubled quotes, characters removed), "
        "SQL text built from it is one forgotten case away from an injection: quoting rules differ between "
        "databases and their settings. Let the ORM build the query, or keep the SQL text constant, with "
        "`%s` placeholders, and pass the values beside it: `cursor.execute(sql, [value, ...])`.",
    )
