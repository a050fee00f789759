"""Grader of `raw_sql_injection`: a search term is only text to look for, and no SQL is built from values."""

import ast
import re
import string
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from django.db import DatabaseError, transaction
from hypothesis import example, given
from hypothesis import strategies as st

from dojo.grading import check, count_queries, kata_dir, read_source, shown
from dojo.scenarios import reference, rolled_back, scenarios
from raw_sql_injection.models import Customer, Invoice, Organization
from raw_sql_injection.services import SEARCH_LIMIT, InvoiceHit, search_invoices

from .factories import CustomerFactory, InvoiceFactory, OrganizationFactory

pytestmark = pytest.mark.django_db

SLUG = "raw_sql_injection"

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
    ours, theirs = OrganizationFactory.create(name="Northwind"), OrganizationFactory.create(name="Globex")
    invoices = [
        *InvoiceFactory.create_batch(3, customer=CustomerFactory.create(organization=ours, name="Acme Corp")),
        *InvoiceFactory.create_batch(2, customer=CustomerFactory.create(organization=ours, name="O'Brien & Sons")),
        *InvoiceFactory.create_batch(2, customer=CustomerFactory.create(organization=ours, name="Initech")),
        *InvoiceFactory.create_batch(3, customer=CustomerFactory.create(organization=theirs, name="Acme Ltd")),
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


@pytest.mark.contract(1, 3)
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


@pytest.mark.contract(3)
def test_search_returns_the_newest_invoices_first_up_to_the_limit() -> None:
    world = platform()
    customer = CustomerFactory.create(organization=world.ours, name="Umbrella")
    world.invoices.extend(InvoiceFactory.create_batch(SEARCH_LIMIT + 5, customer=customer))
    world.invoices.extend(InvoiceFactory.create_batch(3, customer=customer, issued_on=world.invoices[-1].issued_on))

    result = search_invoices(world.ours.pk, "umbrella")

    assert result == expected(world, "umbrella"), (
        f"The search must return the newest {SEARCH_LIMIT} matching invoices, by issue date then number, newest first."
    )


@pytest.mark.contract(4)
def test_a_search_is_one_query() -> None:
    world = platform()

    with count_queries() as log:
        hits = search_invoices(world.ours.pk, "acme")

    assert len(hits) == 3
    assert log.count == 1, "The search must stay one query, customers included.\n" + log.describe()


@pytest.mark.contract(2)
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


@pytest.mark.contract(2)
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


@pytest.mark.lesson("DJ-4")
@pytest.mark.contract(2)
def test_a_term_with_a_nul_character_finds_nothing() -> None:
    ours = OrganizationFactory.create(name="Northwind")
    customer = CustomerFactory.create(organization=ours, name="Acme")
    InvoiceFactory.create(customer=customer, number="INV-0001")
    problems = []
    for term in ("\x00", "Acme\x00", "\x00' OR 1=1 --", "INV\x00%"):
        try:
            with transaction.atomic():  # on PostgreSQL, a failed query must not break the test's transaction
                found: object = [hit.number for hit in search_invoices(ours.pk, term)]
        except Exception as error:  # any failure is the finding: the search must not fail
            found = f"{type(error).__name__}: {str(error).strip().splitlines()[0] if str(error).strip() else ''}"
        if found != []:
            problems.append(f"{term!r} gave {found}")
    check(
        not problems,
        "Search terms with a NUL character (\\x00, which a user can type or paste into the box) did not find "
        f"nothing: {'; '.join(problems)}. No stored number or name holds a NUL character (PostgreSQL's text "
        "refuses one), so none contains such a term, and a term pasted into SQL text reaches the database "
        "as SQL. Pass the term as a parameter, and answer a term with a NUL character with no hits before "
        "asking the database: a driver refuses NUL even in a parameter, and the search must not fail.",
    )


# generated examples each write and read rows: on a loaded machine they need more than the usual
# limit of one check; the verdict never depends on time
SCENARIO_SECONDS = 120

# --- generated scenarios: terms and names with quotes and LIKE's wildcards, the reference as oracle ----

#: the characters a term can hold that SQL or LIKE would read as syntax, beside letters of either case
SCENARIO_ALPHABET = "aAb%_\\' "
SCENARIO_TEXT = st.text(alphabet=SCENARIO_ALPHABET, min_size=1, max_size=4)
SCENARIO_INVOICE = st.fixed_dictionaries(
    {
        "organization": st.sampled_from(("ours", "theirs")),
        "customer": SCENARIO_TEXT,
        "number": st.text(alphabet=SCENARIO_ALPHABET, max_size=3),
        "issued_on": st.sampled_from((date(2026, 3, 1), date(2026, 3, 2))),
    }
)


@st.composite
def search_scenarios(draw: st.DrawFn) -> tuple[list[dict[str, Any]], str]:
    """Invoices of two organizations, named and numbered with wildcards and quotes; a term to search for.

    The term is as often a piece of a stored name or number as free text: a term that must be found,
    `_`, `%` or `\\` included, tells a search that reads them as LIKE syntax from one that looks for them.
    """
    invoices = draw(st.lists(SCENARIO_INVOICE, min_size=1, max_size=6))
    for index, invoice in enumerate(invoices):
        # unique, and never starting with what a term can hold: a match inside a number is told apart
        invoice["number"] = f"N{invoice['number']}-{index}"
    return invoices, draw(_terms(invoices))


def _terms(invoices: list[dict[str, Any]]) -> st.SearchStrategy[str]:
    """Free text of the scenario's alphabet, or a piece of one of the invoices' names or numbers."""
    stored = [text for invoice in invoices for text in (invoice["customer"], invoice["number"])]
    pieces = st.sampled_from(stored).flatmap(
        lambda text: st.tuples(st.integers(0, len(text) - 1), st.integers(1, 3)).map(
            lambda cut: text[cut[0] : cut[0] + cut[1]]
        )
    )
    return st.one_of(st.text(alphabet=SCENARIO_ALPHABET, min_size=1, max_size=3), pieces)


def _written(scenario: list[dict[str, Any]]) -> Organization:
    """The scenario's rows; the organization the search runs for."""
    ours, theirs = OrganizationFactory.create(name="Northwind"), OrganizationFactory.create(name="Globex")
    customers: dict[tuple[str, str], Customer] = {}
    for invoice in scenario:
        key = (invoice["organization"], invoice["customer"])
        if key not in customers:
            owner = ours if invoice["organization"] == "ours" else theirs
            customers[key] = CustomerFactory.create(organization=owner, name=invoice["customer"])
        InvoiceFactory.create(customer=customers[key], number=invoice["number"], issued_on=invoice["issued_on"])
    return ours


def _in_words(invoice: dict[str, Any]) -> str:
    return (
        f"{invoice['number']!r} of customer {invoice['customer']!r} ({invoice['organization']} organization), "
        f"issued on {invoice['issued_on']}"
    )


@cache
def _reference() -> ModuleType:
    return reference(f"{SLUG}.services")


def _neutral(result: list[Any] | str) -> list[tuple[Any, ...]] | str:
    """Hits as tuples (the reference's InvoiceHit is a class of its own), or the error in words."""
    if isinstance(result, str):
        return result
    return [(hit.number, hit.customer_name, hit.issued_on, hit.total_cents) for hit in result]


def _searched(search: Any, organization: Organization, term: str) -> list[tuple[Any, ...]] | str:
    try:
        with transaction.atomic():  # on PostgreSQL, a failed query must not break the example's transaction
            return _neutral(search(organization.pk, term))
    except DatabaseError as error:
        return f"{type(error).__name__}: {str(error).strip().splitlines()[0]}"


@pytest.mark.lesson("DJ-4")
@pytest.mark.contract(1, 2, 3)
@pytest.mark.timeout(SCENARIO_SECONDS)
@scenarios(50)
@given(drawn=search_scenarios())
def test_a_term_matches_literally_on_generated_searches(drawn: tuple[list[dict[str, Any]], str]) -> None:
    scenario, term = drawn
    with rolled_back():
        ours = _written(scenario)
        got = _searched(search_invoices, ours, term)
        wanted = _searched(_reference().search_invoices, ours, term)
    if got == wanted:
        return
    found = got if isinstance(got, str) else f"found {[hit[0] for hit in got]}"
    raise AssertionError(
        f"Searching for {term!r} among these invoices:\n  "
        + "\n  ".join(_in_words(invoice) for invoice in scenario)
        + f"\n{found}, where the search must find {[hit[0] for hit in wanted]}.\n"
        "A term is text to look for, character by character, ignoring case: a quote, `%`, `_` and `\\` are "
        "characters like the others (`_` finds only an underscore, not any character). A term passed as a "
        "parameter still goes through LIKE, whose wildcards it must not use: the ORM's `icontains` escapes "
        "them; in raw SQL, escape `\\`, `%` and `_` and add `ESCAPE '\\'`. Only the organization's invoices, "
        "newest first (issue date, then number)."
    )


# --- generated scenarios: letters whose case Python maps otherwise than the database, terms across fields ---

#: letters whose case Python maps otherwise than the database, beside the letters they map to: Python's
#: casefold() turns "ß" and "ẞ" into "ss" and "ﬁ" into "fi", lower() turns "İ" into "i̇", the Kelvin sign "K"
#: into "k" and a final "Σ" into "ς", where PostgreSQL's UPPER() keeps "ß", "ﬁ", "İ" and "K" and makes "Σ" of
#: "σ" and "ς" and "I" of "ı", and SQLite's LIKE folds ASCII letters only ("é" does not find "É").
FOLDING_ALPHABET = "ßﬁİı\u212aẞσςΣéÉsSfFiIkKaA "
FOLDING_TEXT = st.text(alphabet=FOLDING_ALPHABET, min_size=1, max_size=4)
FOLDING_INVOICE = st.fixed_dictionaries(
    {
        "organization": st.sampled_from(("ours", "theirs")),
        "customer": FOLDING_TEXT,
        "number": st.text(alphabet=FOLDING_ALPHABET, max_size=3),
        "issued_on": st.sampled_from((date(2026, 3, 1), date(2026, 3, 2))),
    }
)
#: what Python does to a term's case, any of which a wrong fix may apply to the term, the stored text, or both
RECASED = (str.upper, str.lower, str.casefold, str.swapcase, str.title)

#: NUL, the quote, `%`, `_` and `\`: the checks above judge how a term holding one is read (the starter's pasted SQL
#: reads them as syntax, and guards pass on the starter); the checks below leave them out
_NOT_JUDGED_HERE = "\x00'%_\\"
#: what a haystack of the number and the name could be joined with, besides nothing: white space, ASCII
#: punctuation, and characters picked as "one nobody types" (a no-break space, dashes, a bullet, an arrow, the ASCII
#: separators, a line separator, a byte order mark)
SEPARATORS = tuple(
    character
    for character in string.whitespace
    + string.punctuation
    + "\u00a0\u2013\u2014\u00b7\u2022\u2192\u00a6\x1c\x1d\x1e\x1f\u2028\u2029\ufeff"
    if character not in _NOT_JUDGED_HERE
)
#: any other one character a haystack could be joined with
ANY_SEPARATOR = st.characters(exclude_characters=_NOT_JUDGED_HERE, codec="utf-8")


def _across(invoice: dict[str, Any], between: str, before: int, after: int, name_first: bool) -> str:
    """The last `before` characters of the number (or of the customer name, `name_first`), `between`, and the
    first `after` characters of the other: a term running from one field into the other, which neither holds."""
    number, customer = str(invoice["number"]), str(invoice["customer"])
    first, second = (customer, number) if name_first else (number, customer)
    return first[len(first) - min(before, len(first)) :] + between + second[: min(after, len(second))]


@st.composite
def folding_scenarios(draw: st.DrawFn) -> tuple[list[dict[str, Any]], str]:
    """Invoices named and numbered with letters Python's case mapping changes; a term to search for.

    The first invoice is ours; a customer's name is often an earlier one re-cased by Python (upper, lower,
    casefold, swapcase, title). The term is a piece of one stored name or number (to be found), a piece of
    one of our customers' names re-cased by Python (found only where the database folds it the same way),
    free text, or a piece that runs from an invoice's number into its customer's name or back, with or
    without a separator between them (found only where one field holds it).
    """
    invoices: list[dict[str, Any]] = draw(st.lists(FOLDING_INVOICE, min_size=1, max_size=5))
    invoices[0]["organization"] = "ours"
    for index, invoice in enumerate(invoices):
        invoice["number"] = f"N{invoice['number']}-{index}"
        if index and draw(st.booleans()):  # folded by Python like the one before, by the database maybe not
            invoice["customer"] = draw(st.sampled_from(RECASED))(invoices[index - 1]["customer"])
    stored: list[str] = [text for invoice in invoices for text in (invoice["customer"], invoice["number"])]
    pieces = st.sampled_from(stored).flatmap(
        lambda text: st.tuples(st.integers(0, len(text) - 1), st.integers(1, 4)).map(
            lambda cut: text[cut[0] : cut[0] + cut[1]]
        )
    )
    names = [str(invoice["customer"]) for invoice in invoices if invoice["organization"] == "ours"]
    name_pieces = st.sampled_from(names).flatmap(
        lambda text: st.tuples(st.integers(0, len(text) - 1), st.integers(1, 2)).map(
            lambda cut: text[cut[0] : cut[0] + cut[1]]
        )
    )
    recased = st.builds(lambda piece, recase: recase(piece), name_pieces, st.sampled_from(RECASED))
    across = st.builds(
        _across,
        st.sampled_from(invoices),
        st.one_of(st.just(""), st.sampled_from(SEPARATORS), ANY_SEPARATOR),
        st.integers(1, 2),
        st.integers(1, 2),
        st.booleans(),
    )
    free = st.text(alphabet=FOLDING_ALPHABET, min_size=1, max_size=3)
    return invoices, draw(st.one_of(pieces, recased, recased, recased, across, free))


def _invoice(number: str, customer: str) -> dict[str, Any]:
    return {"organization": "ours", "customer": customer, "number": number, "issued_on": date(2026, 3, 1)}


def _case_and_fields_message(term: str, found: str, wanted: object, scenario: list[dict[str, Any]]) -> str:
    return (
        f"Searching for {term!r} among these invoices:\n  "
        + "\n  ".join(_in_words(invoice) for invoice in scenario)
        + f"\n{found}, where the search must find {wanted}.\n"
        "An invoice is found when its number, or its customer's name, holds the term, each field on its "
        "own: a term that runs from the number into the name is in neither, whatever joins them in a "
        "haystack made of both (`Concat(number, Value(' '), customer__name)`, a tab, `|`, or nothing). Case "
        "is ignored the way the database ignores it, on both sides of the comparison: Python's "
        "`str.upper()`/`lower()`/`casefold()` map 'ß' to 'SS' or 'ss', 'ﬁ' to 'fi', 'İ' to 'i̇', the Kelvin "
        "sign to 'k' and a final 'Σ' to 'ς', and 'é' to 'É' where SQLite keeps 'é', so a term or a name "
        "folded in Python (a filter over the fetched invoices included) finds what the database does not, "
        "or misses what it finds. Use `icontains` on each field, or compare `Upper(field)` with "
        "`Upper(Value(term))`, both in the query."
    )


@pytest.mark.contract(1)
@pytest.mark.guard("DJ-4")
@pytest.mark.timeout(SCENARIO_SECONDS)
@scenarios(60)
@given(drawn=folding_scenarios())
@example(drawn=([_invoice("INV-1", "Straße GmbH")], "Straße"))
@example(drawn=([_invoice("INV-2", "Strasse AG"), _invoice("INV-3", "Straße GmbH")], "strasse"))
@example(drawn=([_invoice("INV-4", "ﬁne Foods"), _invoice("INV-5", "Fine Wines")], "fine"))
@example(drawn=([_invoice("INV-6", "ΑΣ Ltd")], "Σ"))
@example(drawn=([_invoice("INV-8", "5 \u212a Labs")], "k labs"))
@example(drawn=([_invoice("INV-9", "Aydın Tekstil")], "AYDIN"))
@example(drawn=([_invoice("INV-10", "Café Noir")], "CAFÉ"))
@example(drawn=([_invoice("INV-7", "Acme")], "7 acme"))
def test_each_field_is_searched_on_its_own_in_the_database_s_case(drawn: tuple[list[dict[str, Any]], str]) -> None:
    scenario, term = drawn
    with rolled_back():
        ours = _written(scenario)
        got = _searched(search_invoices, ours, term)
        wanted = _searched(_reference().search_invoices, ours, term)
    found = got if isinstance(got, str) else f"found {[hit[0] for hit in got]}"
    check(
        got == wanted,
        _case_and_fields_message(
            term, found, [hit[0] for hit in wanted] if isinstance(wanted, list) else wanted, scenario
        ),
    )


@st.composite
def boundary_scenarios(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[str]]:
    """Invoices as in `folding_scenarios`, the first one ours; the terms that run across its two fields.

    Its number ends with the last character of its customer's name, so that one term, the end of a field
    and a separator, runs from the number into the name and from the name into the number. There is such a
    term for nothing between (then the start of the other field follows), for each one of `SEPARATORS`, and
    for two other characters drawn from all of Unicode: a haystack joined by any of them, in either order,
    holds one of these terms; the number or the name alone holds none, except by chance, which the
    reference tells.
    """
    invoices: list[dict[str, Any]] = draw(st.lists(FOLDING_INVOICE, min_size=1, max_size=3))
    invoices[0]["organization"] = "ours"
    for index, invoice in enumerate(invoices):
        invoice["number"] = f"N{invoice['number']}-{index}"
    invoices[0]["number"] += invoices[0]["customer"][-1]
    before, after = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    separators = [*SEPARATORS, *draw(st.lists(ANY_SEPARATOR, min_size=2, max_size=2))]
    terms = [
        _across(invoices[0], "", before, after, False),
        _across(invoices[0], "", before, after, True),
        *(_across(invoices[0], between, 1, 0, False) for between in separators),
    ]
    return invoices, list(dict.fromkeys(terms))


@pytest.mark.contract(1)
@pytest.mark.guard("DJ-4")
@pytest.mark.timeout(SCENARIO_SECONDS)
@scenarios(3)
@given(drawn=boundary_scenarios())
def test_no_term_runs_from_the_number_into_the_name(drawn: tuple[list[dict[str, Any]], list[str]]) -> None:
    scenario, terms = drawn
    wrong: list[tuple[str, str, object]] = []
    with rolled_back():
        ours = _written(scenario)
        for term in terms:
            got = _searched(search_invoices, ours, term)
            wanted = _searched(_reference().search_invoices, ours, term)
            if got != wanted:
                found = got if isinstance(got, str) else f"found {[hit[0] for hit in got]}"
                wrong.append((term, found, [hit[0] for hit in wanted] if isinstance(wanted, list) else wanted))
    first = wrong[0] if wrong else ("", "", [])
    others = ", ".join(repr(other) for other, _, _ in wrong[1:6]) + ("..." if len(wrong) > 6 else "")
    check(
        not wrong,
        _case_and_fields_message(*first, scenario)
        + (f"\nSo did {len(wrong) - 1} more term(s) across the invoice's two fields: {others}" if others else ""),
    )


# --- generated scenarios: terms of every length and of every kind of character, the reference as oracle ---

#: the longest customer name (Customer.name's max_length): no longer text is stored, so a longer term finds nothing
LONGEST_NAME = 200
#: characters of every general category of Unicode, each group as likely as the others: letters, marks
#: (combining accents), digits and numerals, punctuation, symbols, separators (a space, a no-break space, a
#: line or paragraph separator) and the rest (a tab, a newline, a control or format character, private use,
#: unassigned). Not the surrogates, which no UTF-8 text holds; not NUL, the quote, `%`, `_` and `\`, which
#: the checks above judge.
ANY_CHARACTER = st.one_of(
    st.characters(categories=["L"], exclude_characters=_NOT_JUDGED_HERE, codec="utf-8"),
    st.characters(categories=["M"], exclude_characters=_NOT_JUDGED_HERE, codec="utf-8"),
    st.characters(categories=["N"], exclude_characters=_NOT_JUDGED_HERE, codec="utf-8"),
    st.characters(categories=["P"], exclude_characters=_NOT_JUDGED_HERE, codec="utf-8"),
    st.characters(categories=["S"], exclude_characters=_NOT_JUDGED_HERE, codec="utf-8"),
    st.characters(categories=["Z"], exclude_characters=_NOT_JUDGED_HERE, codec="utf-8"),
    st.characters(categories=["Cc", "Cf", "Co", "Cn"], exclude_characters=_NOT_JUDGED_HERE, codec="utf-8"),
)


def _any_text(min_size: int, max_size: int) -> st.SearchStrategy[str]:
    return st.text(ANY_CHARACTER, min_size=min_size, max_size=max_size)


@st.composite
def any_term_scenarios(draw: st.DrawFn) -> tuple[list[dict[str, Any]], str]:
    """Invoices with names of any length up to the longest (often the longest) and characters of every kind;
    a term of any length to search for.

    The term is a piece of a stored name or number (to be found), such a piece run on past its end by more
    characters (to be found nowhere, however long the part that matches: a term cut to its first N
    characters, for any N, finds it), or free text, up to longer than any stored name.
    """
    length = st.one_of(
        st.just(LONGEST_NAME), st.integers(LONGEST_NAME // 2, LONGEST_NAME), st.integers(1, LONGEST_NAME)
    )
    invoices: list[dict[str, Any]] = [
        {
            "organization": draw(st.sampled_from(("ours", "theirs"))),
            "customer": draw(length.flatmap(lambda size: _any_text(size, size))),
            "number": f"N{draw(_any_text(0, 3))}-{index}",
            "issued_on": draw(st.sampled_from((date(2026, 3, 1), date(2026, 3, 2)))),
        }
        for index in range(draw(st.integers(1, 3)))
    ]
    stored: str = draw(
        st.sampled_from([text for invoice in invoices for text in (invoice["customer"], invoice["number"])])
    )
    start = draw(st.one_of(st.just(0), st.integers(0, len(stored) - 1)))
    end = draw(st.one_of(st.just(len(stored)), st.integers(start + 1, len(stored))))
    piece = stored[start:end]

    def found_nowhere_in_it(more: str) -> bool:
        return piece + more not in stored

    run_on = piece + draw(_any_text(1, LONGEST_NAME + 50).filter(found_nowhere_in_it))
    return invoices, draw(st.sampled_from((run_on, piece, run_on, draw(_any_text(1, LONGEST_NAME + 50)))))


def _outcome(search: Any, organization: Organization, term: str) -> list[tuple[Any, ...]] | str:
    """The hits, or what the search raised, in words: any exception (a database error, a refusal) is an outcome."""
    try:
        with transaction.atomic():  # on PostgreSQL, a failed query must not break the example's transaction
            return _neutral(search(organization.pk, term))
    except Exception as error:  # the finding is that the search raised, whatever it raised
        return f"raised {type(error).__name__}: {str(error).strip()[:200]}"


def _term_in_words(term: str) -> str:
    shown_term = repr(term) if len(term) <= 60 else f"{term[:40]!r}...{term[-12:]!r}"
    kinds = sorted({unicodedata.category(character) for character in term})
    return f"a term of {len(term)} characters, {shown_term} (Unicode categories {', '.join(kinds)})"


def _long_in_words(invoice: dict[str, Any]) -> str:
    name = invoice["customer"]
    shown_name = repr(name) if len(name) <= 60 else f"{name[:40]!r}... ({len(name)} characters)"
    return f"{invoice['number']!r} of customer {shown_name} ({invoice['organization']} organization)"


@pytest.mark.guard("DJ-4")
@pytest.mark.contract(1, 2)
@pytest.mark.timeout(SCENARIO_SECONDS)
@scenarios(40)
@given(drawn=any_term_scenarios())
@example(drawn=([_invoice("INV-1", "A" * LONGEST_NAME)], "A" * LONGEST_NAME + "B"))
@example(drawn=([_invoice("INV-1", "Acme\tCorp\nHQ")], "acme\tcorp\n"))
def test_any_term_is_searched_as_it_is(drawn: tuple[list[dict[str, Any]], str]) -> None:
    scenario, term = drawn
    with rolled_back():
        ours = _written(scenario)
        got = _outcome(search_invoices, ours, term)
        wanted = _outcome(_reference().search_invoices, ours, term)
    check(
        got == wanted,
        f"Searching for {_term_in_words(term)} among these invoices:\n  "
        + "\n  ".join(_long_in_words(invoice) for invoice in scenario)
        + f"\nthe search {got if isinstance(got, str) else f'found {[hit[0] for hit in got]}'}, where it must "
        f"find {[hit[0] for hit in wanted] if isinstance(wanted, list) else wanted}.\n"
        "A term is searched for as it is, whatever its length and whatever characters it holds: cut to its "
        "first characters, it is another, shorter term, which finds names that do not hold the whole term; "
        "refused, or stripped of a tab, a newline, an accent or a letter of another script, it answers a "
        "search the user did not make, or none. Nothing longer than a stored name can be in it, so a long "
        "term simply finds nothing; any other term goes to the database whole, as a parameter (DJ-4).",
    )


@st.composite
def search_changes(draw: st.DrawFn) -> tuple[list[dict[str, Any]], str, tuple[Any, ...]]:
    """A search scenario and a change made between two searches of the same term.

    A new invoice, a customer renamed or an invoice renumbered, often to a text holding the term (so
    that the second search must find it), or an invoice deleted. The term holds letters only: this check
    judges what a search sees, and the others how it reads quotes and wildcards.
    """
    invoices, _ = draw(search_scenarios())
    term = draw(st.text(alphabet="aAb", min_size=1, max_size=3))
    text = st.tuples(SCENARIO_TEXT, st.booleans()).map(lambda drawn: drawn[0] + term if drawn[1] else drawn[0])
    place = st.integers(0, len(invoices) - 1)
    change = draw(
        st.one_of(
            st.tuples(st.just("invoice"), st.sampled_from(("ours", "theirs")), text),
            st.tuples(st.just("rename"), place, text),
            st.tuples(st.just("renumber"), place, text),
            st.tuples(st.just("delete"), place),
        )
    )
    return invoices, term, change


def _changed(scenario: list[dict[str, Any]], change: tuple[Any, ...], ours: Organization) -> str:
    """Makes `change` to the written scenario; what was changed, in words."""
    kind, *details = change
    if kind == "invoice":
        owner, name = details
        organization = ours if owner == "ours" else OrganizationFactory.create(name="Initech")
        number = f"N-new-{len(scenario)}"
        InvoiceFactory.create(customer=CustomerFactory.create(organization=organization, name=name), number=number)
        return f"a new invoice {number!r} of a new customer {name!r} ({owner} organization) was written"
    invoice = Invoice.objects.select_related("customer").get(number=scenario[details[0]]["number"])
    if kind == "rename":
        Customer.objects.filter(pk=invoice.customer_id).update(name=details[1])
        return f"the customer {invoice.customer.name!r} was renamed {details[1]!r}"
    if kind == "renumber":
        number = f"N{details[1]}-r{details[0]}"
        Invoice.objects.filter(pk=invoice.pk).update(number=number)
        return f"the invoice {invoice.number!r} was renumbered {number!r}"
    invoice.delete()
    return f"the invoice {invoice.number!r} was deleted"


@pytest.mark.guard("DJ-4")
@pytest.mark.contract(1)
@pytest.mark.timeout(SCENARIO_SECONDS)
@scenarios(40)
@given(drawn=search_changes())
def test_a_search_finds_the_invoices_as_they_are_when_it_runs(
    drawn: tuple[list[dict[str, Any]], str, tuple[Any, ...]],
) -> None:
    scenario, term, change = drawn
    with rolled_back():
        ours = _written(scenario)
        _searched(search_invoices, ours, term)  # an earlier search of the same term
        what = _changed(scenario, change, ours)
        got = _searched(search_invoices, ours, term)
        wanted = _searched(_reference().search_invoices, ours, term)
    found = got if isinstance(got, str) else f"found {[hit[0] for hit in got]}"
    check(
        got == wanted,
        "Among these invoices:\n  "
        + "\n  ".join(_in_words(invoice) for invoice in scenario)
        + f"\n{term!r} was searched for, then {what}, then {term!r} was searched for again: the second search "
        f"{found}, where it must find {[hit[0] for hit in wanted] if isinstance(wanted, list) else wanted}.\n"
        "A search finds the invoices as they are in the database when it runs: one written, renamed or "
        "deleted since an earlier search shows (or no longer shows) in the next. A result kept from an earlier "
        "call (lru_cache, a dict of searches) goes stale the moment the data changes, and each worker process "
        "keeps its own; ask the database on every search, with the term as a parameter.",
    )


# --- the source: no SQL built from values -----------------------------------------------------------

# Where SQL text goes: the argument (or keyword) of these calls is SQL, whatever its case or shape.
SINKS = {"execute", "executemany", "raw", "extra", "RawSQL", "RunSQL"}
SQL_KEYWORDS = {"sql", "raw_query", "where", "select", "tables", "order_by"}
# SQL in a string, in any case: a statement, or two of the clauses a query is made of. Prose rarely
# has both "select ... from" and a comparison, or two clauses; SQL almost always does.
_ITEM = r"""(?:\*|[\w."]+(?:\([^()]*\))?(?:\s+as\s+\w+)?)"""  # a column, a call, `*`; "an invoice" is not one
_STATEMENT = re.compile(
    rf"\bselect\s+(?:distinct\s+)?{_ITEM}(?:\s*,\s*{_ITEM})*\s+from\b"
    r"|\binsert\s+into\b|\bupdate\s+\S+\s+set\b|\bdelete\s+from\b",
    re.IGNORECASE,
)
_CLAUSES = {
    "where": re.compile(r"\bwhere\b", re.IGNORECASE),
    "like": re.compile(r"\b(?:i?like)\b", re.IGNORECASE),
    "join": re.compile(r"\bjoin\b.+?\bon\b", re.IGNORECASE | re.DOTALL),
    "order": re.compile(r"\border\s+by\b", re.IGNORECASE),
    "group": re.compile(r"\bgroup\s+by\b", re.IGNORECASE),
    "limit": re.compile(r"\blimit\b\s*(?:\d|\{|%|$)", re.IGNORECASE),
    "union": re.compile(r"\bunion\b(?:\s+all)?\s+select\b", re.IGNORECASE),
    "compare": re.compile(r"\w\s*(?:=|<>|!=|<=|>=)\s*(?:'|\{|%|\d)", re.IGNORECASE),
}


def looks_like_sql(text: str) -> bool:
    """True for SQL text in any letter case (`select ... from`, or two clauses such as where and like)."""
    clauses = sum(1 for clause in _CLAUSES.values() if clause.search(text))
    return bool(_STATEMENT.search(text)) or clauses >= 2


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
        if node.func.attr in ("format", "format_map") and (node.args or node.keywords):
            return "str.format()"
        if node.func.attr == "join" and isinstance(node.func.value, ast.Constant):
            return "str.join()"
        if node.func.attr == "replace" and any(not _is_literal(arg) for arg in node.args):
            return "str.replace()"
        if node.func.attr in ("substitute", "safe_substitute") and (node.args or node.keywords):
            return "string.Template"
    return None


class SourceFlow:
    """What the kata's names and functions can hold: the expressions assigned to a name, returned by a
    function, or put in a list or a dict, in any of its modules, followed back from the call that runs SQL.
    """

    def __init__(self, trees: Iterable[ast.Module]) -> None:
        self.assigned: dict[str, list[ast.AST]] = {}
        self.returned: dict[str, list[ast.AST]] = {}
        for tree in trees:
            self._read(tree)

    def _read(self, tree: ast.Module) -> None:
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign | ast.AnnAssign | ast.NamedExpr) and node.value is not None:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    for name in ast.walk(target):
                        if isinstance(name, ast.Name):
                            self.assigned.setdefault(name.id, []).append(node.value)
            elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
                appended = ast.copy_location(ast.BinOp(ast.Name(node.target.id), ast.Add(), node.value), node)
                self.assigned.setdefault(node.target.id, []).append(appended)
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                returns = [n.value for n in ast.walk(node) if isinstance(n, ast.Return) and n.value is not None]
                self.returned.setdefault(node.name, []).extend(returns)
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("append", "extend", "insert")
                and isinstance(node.func.value, ast.Name)
            ):
                # parts.append(f"..."), parts.extend([...]): the list's name holds them too
                self.assigned.setdefault(node.func.value.id, []).extend(node.args)

    def sources(self, node: ast.AST, seen: set[int] | None = None) -> list[ast.AST]:
        """`node` and every expression whose value can reach it."""
        seen = set() if seen is None else seen
        if id(node) in seen:
            return []
        seen.add(id(node))
        found = [node]
        followed: list[ast.AST] = []
        if isinstance(node, ast.Name):
            followed = self.assigned.get(node.id, [])
        elif isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            followed = self.returned.get(name, [])
            if isinstance(node.func, ast.Attribute):  # sql.strip(), " ".join(parts)
                followed = [*followed, node.func.value, *node.args]
        elif isinstance(node, ast.List | ast.Tuple | ast.Set):
            followed = list(node.elts)
        elif isinstance(node, ast.Dict):
            followed = [value for value in node.values if value is not None]
        elif isinstance(node, ast.BinOp):
            followed = [node.left, node.right]
        elif isinstance(node, ast.IfExp):
            followed = [node.body, node.orelse]
        for child in followed:
            found += self.sources(child, seen)
        return found


def sql_arguments(call: ast.Call) -> list[ast.expr]:
    """The arguments of a call that runs SQL: the first positional one and the SQL keywords."""
    name = call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", "")
    if name not in SINKS:
        return []
    return call.args[:1] + [keyword.value for keyword in call.keywords if keyword.arg in SQL_KEYWORDS]


def sql_built_from_values(sources: dict[Path, str]) -> list[tuple[Path, str, str, str]]:
    """(file, where, how, code) for each SQL text in the kata's modules that is built from values."""
    trees = {path: ast.parse(source) for path, source in sources.items()}
    flow = SourceFlow(trees.values())
    module_of = {id(node): path for path, tree in trees.items() for node in ast.walk(tree)}
    found: dict[tuple[str, int], tuple[str, ast.AST]] = {}

    def record(how: str, node: ast.AST) -> None:
        # only expressions paste values into a string (built_from_values), and an expression has a line
        found.setdefault((str(module_of.get(id(node), "")), node.lineno), (how, node))  # type: ignore[attr-defined]

    for tree in trees.values():
        for node in ast.walk(tree):
            how = built_from_values(node)
            # the text the value goes into, wherever it was written: `SQL.format(...)` reads SQL's
            if how and looks_like_sql(" ".join(_literal_text(part) for part in flow.sources(node))):
                record(how, node)
            if isinstance(node, ast.Call):
                for argument in sql_arguments(node):
                    for candidate in flow.sources(argument):
                        if how := built_from_values(candidate):
                            record(how, candidate)
    lines = {str(path): source.splitlines() for path, source in sources.items()}
    return [(Path(module), *_shown(lines[module], how, node)) for (module, _line), (how, node) in sorted(found.items())]


def _shown(lines: list[str], how: str, node: ast.AST) -> tuple[str, str, str]:
    """Where values go into the string (the f-string's lines with values, or the first line), how, and the code."""
    pasted = sorted({n.lineno for n in ast.walk(node) if isinstance(n, ast.FormattedValue)}) or [node.lineno]  # type: ignore[attr-defined]  # an expression, as in record()
    where = f"line {pasted[0]}" if len(pasted) == 1 else f"lines {', '.join(map(str, pasted))}"
    return where, how, "\n      ".join(lines[number - 1].strip() for number in pasted)


def kata_modules() -> list[Path]:
    """The kata's Python files: services.py and any module the learner added (a helper is graded too)."""
    root = kata_dir(SLUG)
    return sorted(
        path for path in root.rglob("*.py") if "__pycache__" not in path.parts and "migrations" not in path.parts
    )


@pytest.mark.contract(5)
@pytest.mark.lesson("DJ-4")
def test_no_sql_is_built_from_values() -> None:
    findings = sql_built_from_values({path: read_source(path) for path in kata_modules()})

    check(
        not findings,
        "SQL text is built out of values:\n"
        + "\n".join(f"  {shown(path)}, {where}, with {how}:\n      {code}" for path, where, how, code in findings)
        + "\nWhatever the value, and however it is escaped by hand (doubled quotes, characters removed), "
        "SQL text built from it is one forgotten case away from an injection: quoting rules differ between "
        "databases and their settings. Let the ORM build the query, or keep the SQL text constant, with "
        "`%s` placeholders, and pass the values beside it: `cursor.execute(sql, [value, ...])`.",
    )
