"""Grader of `cursor_pagination`: bounded pages; a cursor that gives each invoice once; limit/offset for admin."""

import itertools
import json
import random
import re
from base64 import urlsafe_b64encode
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test import Client, override_settings
from hypothesis import example, given
from hypothesis import strategies as st

from cursor_pagination.models import Invoice, Organization
from dojo.grading import QueryLog, check, count_queries
from dojo.scenarios import reference, rolled_back, scenarios

from .factories import InvoiceFactory, OrganizationFactory

pytestmark = [pytest.mark.django_db, pytest.mark.urls("cursor_pagination.api")]

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
PAGE_SIZE = 20
MAX_PAGE_SIZE = 50
ADMIN_URL = "/api/v1/admin/invoices"
ADMIN_MAX_LIMIT = 50
#: more invoices than any cap a "cheap count" would stop at (1,000)
BIG_TABLE_INVOICES = 1_234
STATUSES_URL = "/api/v1/invoice-statuses"
INVOICE_FIELDS = {"id", "number", "status", "total_cents", "currency", "created_at"}
MAX_PAGES = 100
# Django Ninja's CursorPagination counts invoices that share the last created_at, and refuses 100 or more
NINJA_TIE_LIMIT = 100
FIRST_EXPLICIT_ID = 1_000_000_000


def portal_url(organization: Organization) -> str:
    return f"/api/v1/organizations/{organization.pk}/invoices"


def hourly(count: int, *, start: datetime = START) -> list[datetime]:
    return [start + timedelta(hours=hour) for hour in range(count)]


def invoices_created_at(
    organization: Organization, moments: Iterable[datetime], *, ids: Iterable[int] | None = None
) -> list[Invoice]:
    """One invoice per moment, each created (auto_now_add) at exactly that instant, with the given ids."""
    invoices = []
    chosen = iter(ids) if ids is not None else None
    for moment, same in itertools.groupby(moments):
        with time_machine.travel(moment, tick=False):
            for _ in same:
                extra = {"id": next(chosen)} if chosen is not None else {}
                invoices.append(InvoiceFactory.create(organization=organization, **extra))
    return invoices


def shuffled_ids(count: int, *, seed: int) -> list[int]:
    """Ids far above the sequence's, in an order unlike the insertion order (SQLite scans by id)."""
    ids = list(range(FIRST_EXPLICIT_ID, FIRST_EXPLICIT_ID + count))
    random.Random(seed).shuffle(ids)  # noqa: S311 - test data, not a secret
    return ids


def newest_first(invoices: Iterable[Invoice]) -> list[str]:
    return [invoice.number for invoice in sorted(invoices, key=lambda i: (i.created_at, i.pk), reverse=True)]


def describe(body: object) -> str:
    if isinstance(body, list):
        return f"one JSON list of {len(body)} items"
    if isinstance(body, dict):
        return f"an object with the keys {sorted(body)}"
    return f"{body!r:.80}"


@dataclass
class Walk:
    """What a client sees following `next` from the first page to the last."""

    pages: list[list[dict[str, Any]]]

    @property
    def numbers(self) -> list[str]:
        return [item["number"] for page in self.pages for item in page]


def walk(
    client: Client, url: str, params: dict[str, Any] | None = None, *, between_pages: Callable[[], None] | None = None
) -> Walk:
    params = params or {}
    pages: list[list[dict[str, Any]]] = []
    response = client.get(url, params)
    while True:
        check(
            response.status_code == 200,
            f"Following `next` ({len(pages)} pages read), GET {response.request['PATH_INFO']} answered "
            f"{response.status_code}: {response.content[:300]!r}",
        )
        body = response.json()
        if isinstance(body, list):  # not paginated: everything in one answer
            pages.append(body)
            return Walk(pages)
        check(
            "results" in body and "next" in body,
            f"GET {url} answered {describe(body)}. The portal list answers a page as "
            '{"results": [...], "next": ...}, `next` being the URL of the next page (null on the last).',
        )
        pages.append(body["results"])
        next_page = body["next"]
        if not next_page:
            return Walk(pages)
        check(len(pages) < MAX_PAGES, f"Following `next` went past {MAX_PAGES} pages: the cursor does not advance.")
        if between_pages is not None:
            between_pages()
        if str(next_page).startswith(("http://", "https://", "/")):
            response = client.get(next_page)
        else:  # a bare cursor token rather than a URL
            response = client.get(url, {**params, "cursor": next_page})


def repeated(numbers: list[str]) -> list[str]:
    return sorted({number for number in numbers if numbers.count(number) > 1})


def walked_newest_first(
    client: Client, organization: Organization, invoices: Iterable[Invoice], *, page_size: int
) -> tuple[list[str], list[str], list[str]]:
    """Following `next` through the organization's list in pages of `page_size`: the invoice numbers it gave,
    the invoices newest first (what it should give), and those it missed."""
    seen = walk(client, portal_url(organization), {"page_size": page_size}).numbers
    expected = newest_first(invoices)
    return seen, expected, [number for number in expected if number not in seen]


@pytest.mark.contract(1)
def test_the_portal_lists_the_organizations_invoices_newest_first(client: Client) -> None:
    """The portal lists the organization's invoices, newest first."""
    organization = OrganizationFactory.create()
    invoices = invoices_created_at(organization, [START + timedelta(days=day) for day in (3, 0, 7, 1, 5)])
    invoices_created_at(OrganizationFactory.create(), hourly(2))  # another organization's invoices

    result = walk(client, portal_url(organization))

    assert result.numbers == newest_first(invoices), (
        "The portal list changed: following it from the first page to the last must give the "
        "organization's invoices, and only those, newest first."
    )
    newest = result.pages[0][0]
    assert set(newest) == INVOICE_FIELDS, (
        f"Each invoice keeps the fields {sorted(INVOICE_FIELDS)}; got {sorted(newest)}."
    )
    assert datetime.fromisoformat(newest["created_at"]) == START + timedelta(days=7)


@pytest.mark.contract(2)
@pytest.mark.lesson("API-4")
def test_the_portal_list_answers_in_bounded_pages(client: Client) -> None:
    organization = OrganizationFactory.create()
    invoices_created_at(organization, hourly(60))
    url = portal_url(organization)

    first = client.get(url).json()

    check(
        isinstance(first, dict) and "results" in first and "next" in first,
        f"GET {url} answered {describe(first)}: every invoice of the organization in one response. With "
        "180,000 invoices that is one enormous query, a huge JSON body and a worker's memory gone, and "
        "the list grows every day. Answer one page at a time, with a cursor: "
        '{"results": [...], "next": "<URL of the next page>"}: a keyset on (created_at, id), a small '
        "paginator of your own (Django Ninja's CursorPagination fails when 100 invoices share a created_at).",
    )
    check(
        len(first["results"]) == PAGE_SIZE and first["next"],
        f"With 60 invoices, the first page held {len(first['results'])} invoices and `next` was "
        f"{first['next']!r}. A page holds {PAGE_SIZE} invoices by default, and `next` is the URL of the rest.",
    )
    fewer = client.get(url, {"page_size": 5}).json()
    check(
        len(fewer.get("results", [])) == 5,
        f"?page_size=5 gave {len(fewer.get('results', []))} invoices: a client may ask for smaller pages.",
    )
    single = client.get(url, {"page_size": 1}).json()
    check(
        len(single.get("results", [])) == 1 and single.get("next"),
        f"?page_size=1 gave {len(single.get('results', []))} invoices: a page of one invoice is a page too.",
    )
    sizes = [len(page) for page in walk(client, url, {"page_size": 20}).pages]
    check(
        sizes == [20, 20, 20],
        f"60 invoices in pages of 20 came as pages of {sizes}. A page that ends with the last invoice has no "
        "`next`: a client would follow it to an empty page.",
    )
    greedy = client.get(url, {"page_size": 1000}).json()
    check(
        len(greedy.get("results", [])) <= MAX_PAGE_SIZE,
        f"?page_size=1000 gave {len(greedy.get('results', []))} invoices: a client can still ask for "
        f"everything at once. Cap the page size at {MAX_PAGE_SIZE}.",
    )


@pytest.mark.contract(3)
@pytest.mark.guard("API-4")
def test_walking_next_gives_each_invoice_once_when_timestamps_tie(client: Client) -> None:
    """Walking next gives each invoice once when 250 invoices share one created_at"""
    organization = OrganizationFactory.create()
    tied_at = START + timedelta(days=1)
    tied = 2 * NINJA_TIE_LIMIT + 50  # e.g. one import, or a backfill with default=timezone.now
    # the newest first and the oldest last, so that neither the insertion order nor the id order is the
    # order the portal shows; the tied invoices get ids in a shuffled order
    invoices = [
        *invoices_created_at(organization, hourly(4, start=tied_at + timedelta(hours=1))),
        *invoices_created_at(organization, [tied_at] * tied, ids=shuffled_ids(tied, seed=11)),
        *invoices_created_at(organization, hourly(4)),
    ]

    seen, expected, missing = walked_newest_first(client, organization, invoices, page_size=MAX_PAGE_SIZE)

    check(
        seen == expected,
        f"{tied} of the organization's {len(invoices)} invoices were created at the same instant. Following "
        f"`next` with page_size={MAX_PAGE_SIZE} gave {len(seen)} invoices; missing: {len(missing)} "
        f"{missing[:3] or ''}; repeated: {len(repeated(seen))}"
        f"{'' if missing or repeated(seen) else '; the order differs from newest first, then highest id'}. "
        "A cursor that remembers only the last created_at cannot say where, among invoices of one "
        "instant, the page ended: `created_at < last` skips the rest of them, `<=` repeats them. Django "
        "Ninja's CursorPagination remembers the created_at and how many invoices of that instant were "
        f'already sent, and refuses {NINJA_TIE_LIMIT} or more (a 500). Order by ("-created_at", "-id"), '
        "a total order, and let the cursor remember the position in that order: the pair (created_at, id) "
        "of the last invoice sent, so that the next page is `created_at < c OR (created_at = c AND id < i)` "
        "(with the bound `created_at <= c`, so that the index finds where it starts).",
    )


def page_queries(log: QueryLog) -> list[str]:
    """The statements that read a page of the portal's list: they order by created_at."""
    return [sql for sql in log.statements if re.search(r"order\s+by\s+.*created_at", sql, re.IGNORECASE | re.DOTALL)]


ORDER_BY_CLAUSE = re.compile(r"\border\s+by\s+(.+?)(?:\blimit\b|\boffset\b|$)", re.IGNORECASE | re.DOTALL)
CREATED_AT_THEN_ID = re.compile(r"created_at\W*\s+desc\s*,\s*[\w\".]*?\W?(id|pk)\W*\s+desc", re.IGNORECASE)


@pytest.mark.contract(3)
@pytest.mark.guard("API-4")
def test_the_page_query_orders_ties_by_id(client: Client) -> None:
    """The page query orders invoices of one instant by -id, on every database"""
    organization = OrganizationFactory.create()
    tied_at = START + timedelta(days=2)
    invoices_created_at(organization, [tied_at] * 12, ids=shuffled_ids(12, seed=5))

    with count_queries() as log:
        walk(client, portal_url(organization), {"page_size": 5})

    clauses = [match.group(1).strip() for sql in page_queries(log) if (match := ORDER_BY_CLAUSE.search(sql))]
    untied = [clause for clause in clauses if not CREATED_AT_THEN_ID.search(clause)]
    check(
        clauses and not untied,
        f"The queries that read the portal's pages order by {untied[:1] or 'nothing at all'}. Invoices "
        "with one created_at then come in whatever order the database finds them: SQLite happens to "
        "follow the index, PostgreSQL may not, and the next request may differ from this one, so a "
        'position among them means nothing. Order by ("-created_at", "-id") in every page query.',
    )


@pytest.mark.contract(3)
@pytest.mark.guard("API-4")
def test_walking_next_gives_each_invoice_once_when_timestamps_differ_by_microseconds(client: Client) -> None:
    """Walking next gives each invoice once when created_at values differ by microseconds"""
    organization = OrganizationFactory.create()
    # three invoices a second, 1 and 333,334 microseconds apart: a cursor cut to seconds or
    # milliseconds points between two of them
    moments = [START + timedelta(seconds=n // 3, microseconds=(n % 3) * 333_333 + n % 2) for n in range(17)]
    invoices = invoices_created_at(organization, moments)

    seen, expected, missing = walked_newest_first(client, organization, invoices, page_size=4)

    check(
        seen == expected,
        f"{len(invoices)} invoices were created a third of a second apart. Following `next` with page_size=4 "
        f"gave {len(seen)} invoices; missing: {missing or 'none'}; repeated: {repeated(seen) or 'none'}. "
        "The cursor must carry the created_at exactly as stored, microseconds included "
        "(`isoformat()`, not `timestamp()` rounded or a format without microseconds).",
    )


@pytest.mark.contract(3)
@pytest.mark.guard("API-4")
def test_walking_next_gives_each_invoice_once_when_invoices_arrive_meanwhile(client: Client) -> None:
    organization = OrganizationFactory.create()
    invoices = invoices_created_at(organization, hourly(23))
    arrivals = iter(range(MAX_PAGES))

    def two_new_invoices() -> None:
        batch = next(arrivals)
        later = START + timedelta(days=30, hours=2 * batch)
        invoices_created_at(organization, [later, later + timedelta(hours=1)])

    seen = walk(client, portal_url(organization), {"page_size": 5}, between_pages=two_new_invoices).numbers

    existing = {invoice.number for invoice in invoices}
    seen_existing = [number for number in seen if number in existing]
    missing = [number for number in newest_first(invoices) if number not in seen_existing]
    check(
        seen_existing == newest_first(invoices) and not repeated(seen),
        "Two new invoices were created before each request for the next page, as happens while a user "
        f"scrolls. Following `next` (page_size=5) returned {len(seen_existing)} rows for the {len(invoices)} "
        f"invoices that existed at the start; repeated: {repeated(seen) or 'none'}; missing: {missing or 'none'}. "
        "A page that starts at row number N moves when rows are added before it: the offset then points "
        "at rows already sent. The cursor must point at a position in the order, the (created_at, id) of "
        "the last invoice sent, which new invoices do not move.",
    )


# generated examples each write and read rows: on a loaded machine they need more than the usual
# limit of one check; the verdict never depends on time
SCENARIO_SECONDS = 120

# --- generated lists: ties, two organizations, ids out of order, the reference as oracle ------------

SCENARIO_MOMENTS = (START, START, START + timedelta(microseconds=1), START + timedelta(hours=1))
SCENARIO_INVOICE = st.fixed_dictionaries(
    {
        "organization": st.sampled_from(("asked", "other")),
        "created_at": st.sampled_from(SCENARIO_MOMENTS),
    }
)


@st.composite
def list_scenarios(draw: st.DrawFn) -> tuple[list[dict[str, Any]], int]:
    """Invoices of the organization asked for and of another one, with ids in an order of their own; a page size."""
    invoices = draw(st.lists(SCENARIO_INVOICE, min_size=1, max_size=8))
    ids = draw(st.permutations(range(len(invoices))))
    for index, (invoice, rank) in enumerate(zip(invoices, ids, strict=True)):
        invoice["id"] = FIRST_EXPLICIT_ID + 10 * rank
        invoice["number"] = f"GEN-{index:02d}"
    return invoices, draw(st.integers(1, 4))


def _written(scenario: list[dict[str, Any]]) -> Organization:
    """The scenario's invoices, each created at its moment; the organization whose list is asked for."""
    asked, other = OrganizationFactory.create(), OrganizationFactory.create()
    for invoice in scenario:
        owner = asked if invoice["organization"] == "asked" else other
        InvoiceFactory.create(organization=owner, id=invoice["id"], number=invoice["number"])
        # created_at is auto_now_add: set it afterwards, as an import or a backfill would
        Invoice.objects.filter(pk=invoice["id"]).update(created_at=invoice["created_at"])
    return asked


@cache
def _reference() -> ModuleType:
    return reference("cursor_pagination.services")


def reference_pages(organization: Organization, page_size: int) -> list[list[str]]:
    """The pages the reference cuts, as invoice numbers."""
    services = _reference()
    pages: list[list[str]] = []
    after = None
    while len(pages) < MAX_PAGES:
        page = services.organization_invoice_page(organization.pk, after=after, size=page_size)
        pages.append([invoice.number for invoice in page.invoices])
        if page.next is None:
            break
        after = page.next
    return pages


def walked_against_the_reference(
    scenario: list[dict[str, Any]], page_size: int
) -> tuple[list[list[str]], list[list[str]]] | None:
    """The scenario's invoices written, then `next` followed in pages of `page_size`: its pages as invoice
    numbers, and the pages the reference cuts; None when every invoice came in one answer (the list is not
    paginated yet, which the API-4 lesson checks report)."""
    organization = _written(scenario)
    got = walk(Client(), portal_url(organization), {"page_size": page_size})
    numbers = [[item["number"] for item in page] for page in got.pages]
    wanted = reference_pages(organization, page_size)
    return None if numbers == [[number for page in wanted for number in page]] else (numbers, wanted)


def _in_words(invoice: dict[str, Any]) -> str:
    owner = "the organization asked for" if invoice["organization"] == "asked" else "another organization"
    return f"{invoice['number']} (id {invoice['id']}), created at {invoice['created_at'].isoformat()}, of {owner}"


@pytest.mark.guard("API-4")
@pytest.mark.contract(1, 2, 3)
@pytest.mark.timeout(SCENARIO_SECONDS)
@scenarios(20)
@given(drawn=list_scenarios())
def test_walking_next_matches_the_reference_on_generated_lists(drawn: tuple[list[dict[str, Any]], int]) -> None:
    scenario, page_size = drawn
    with rolled_back():
        walked = walked_against_the_reference(scenario, page_size)
    if walked is None:
        return  # not paginated (yet): the API-4 lesson checks report it
    numbers, wanted = walked
    check(
        numbers == wanted,
        f"Following `next` with page_size={page_size} over these invoices:\n  "
        + "\n  ".join(_in_words(invoice) for invoice in scenario)
        + f"\ngave the pages {numbers}, where the portal's pages are {wanted}: the organization's invoices "
        "only, newest first (created_at, then the highest id), each exactly once, page after page, however "
        "many share one created_at. A page that ends with the last invoice has no `next`.",
    )


# --- the cursor is the same instant under any server TIME_ZONE ----------------------------------------

#: servers' zones: with daylight saving time (an hour of wall-clock times that comes twice in autumn), a
#: half-hour one, one 14 hours ahead of UTC with no change, and UTC itself
SERVER_ZONES = (
    "America/New_York",
    "Europe/Paris",
    "Australia/Lord_Howe",
    "America/St_Johns",
    "Pacific/Kiritimati",
    "Asia/Kathmandu",
    "UTC",
)
ZONE_YEAR = 2026


@cache
def clock_changes(zone_name: str) -> tuple[datetime, ...]:
    """The instants of ZONE_YEAR at which the zone's clocks change (its UTC offset), or its new year's midnight."""
    zone = ZoneInfo(zone_name)
    step = timedelta(minutes=15)
    moment = datetime(ZONE_YEAR, 1, 1, tzinfo=UTC)
    changes: list[datetime] = []
    while moment.year == ZONE_YEAR:
        if (moment + step).astimezone(zone).utcoffset() != moment.astimezone(zone).utcoffset():
            changes.append(moment + step)
        moment += step
    return tuple(changes) or (datetime(ZONE_YEAR, 1, 1, tzinfo=zone).astimezone(UTC),)


@st.composite
def zoned_lists(draw: st.DrawFn) -> tuple[str, list[dict[str, Any]], int]:
    """A server's TIME_ZONE; invoices created around one of its clock changes, half an hour apart (some at
    one instant, some a microsecond apart), with ids in an order of their own; a page size."""
    zone = draw(st.sampled_from(SERVER_ZONES))
    change = draw(st.sampled_from(clock_changes(zone)))
    offsets = st.tuples(st.integers(-3, 3), st.sampled_from((0, 0, 1)))  # (half hours, microseconds)
    moments = draw(st.lists(offsets, min_size=2, max_size=9))
    ids = draw(st.permutations(range(len(moments))))
    invoices = [
        {
            "organization": "asked",
            "created_at": change + timedelta(minutes=30 * half_hours, microseconds=microseconds),
            "id": FIRST_EXPLICIT_ID + 10 * rank,
            "number": f"TZ-{index:02d}",
        }
        for index, ((half_hours, microseconds), rank) in enumerate(zip(moments, ids, strict=True))
    ]
    return zone, invoices, draw(st.integers(1, 3))


@pytest.mark.guard("API-4")
@pytest.mark.contract(3)
@pytest.mark.timeout(SCENARIO_SECONDS)
@scenarios(40)
@example(
    drawn=(
        "Europe/Paris",
        [
            {
                "organization": "asked",
                "created_at": moment,
                "id": FIRST_EXPLICIT_ID + index,
                "number": f"TZ-{index:02d}",
            }
            for index, moment in enumerate(
                datetime(ZONE_YEAR, 10, 25, 0, 30, tzinfo=UTC) + timedelta(minutes=30 * step) for step in range(4)
            )
        ],
        1,
    )
)
@given(drawn=zoned_lists())
def test_walking_next_matches_the_reference_under_any_time_zone(drawn: tuple[str, list[dict[str, Any]], int]) -> None:
    """Generated lists around the clock changes of servers' TIME_ZONEs: the pages are the reference's"""
    zone, scenario, page_size = drawn
    with rolled_back(), override_settings(TIME_ZONE=zone):
        walked = walked_against_the_reference(scenario, page_size)
    if walked is None:
        return  # not paginated (yet): the API-4 lesson checks report it
    numbers, wanted = walked
    local = ZoneInfo(zone)
    check(
        numbers == wanted,
        f"With the server's TIME_ZONE {zone!r}, following `next` with page_size={page_size} over these invoices:\n  "
        + "\n  ".join(
            f"{invoice['number']} (id {invoice['id']}), created at {invoice['created_at'].isoformat()} "
            f"({invoice['created_at'].astimezone(local).isoformat()} on the server's clock)"
            for invoice in scenario
        )
        + f"\ngave the pages {numbers}, where the portal's pages are {wanted}. A cursor is an instant, not a "
        "wall-clock time: the clock of a server's TIME_ZONE shows some times twice when it goes back in "
        "autumn, and another server may run in another zone. Write the created_at in the cursor as an aware "
        "datetime (with its offset, or in UTC) and read it back as the same instant; a naive datetime, or one "
        "read in the server's zone, puts the next page somewhere else.",
    )


# --- a deep page is found through the index, not by reading the rows before it ---------------------

DEEP_INVOICES = 40_000  # PostgreSQL's planner chooses as in production only on a table of some size


def _many_invoices(organization: Organization) -> None:
    """The organization's invoices, many of them on PostgreSQL, with fresh planner statistics."""
    if connection.vendor != "postgresql":
        invoices_created_at(organization, hourly(3 * MAX_PAGE_SIZE))
        return
    others = [OrganizationFactory.create().pk for _ in range(3)]
    table = connection.ops.quote_name(Invoice._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (organization_id, number, status, total_cents, currency, created_at, updated_at) "  # noqa: S608 - our own table name
            "SELECT CASE WHEN g %% 4 = 0 THEN %s ELSE (%s::bigint[])[1 + g %% 3] END, 'DEEP-' || g, 'open', "
            "1000 + g %% 700, 'EUR', TIMESTAMPTZ '2026-01-01 00:00:00+00' + (g / 2) * INTERVAL '1 second', now() "
            "FROM generate_series(1, %s) AS g",
            [organization.pk, others, DEEP_INVOICES],
        )
        cursor.execute(f"ANALYZE {table}")


@contextmanager
def page_statements() -> Iterator[list[tuple[str, Any]]]:
    """The page queries run in the block (those ordered by created_at), as sent: SQL and parameters apart.

    A plan is read for the statement with its parameters, as the application runs it: with the values
    pasted in, SQLite would see that the keyset's two created_at are one constant and derive the bound
    itself, which it cannot do for the statement the application sends.
    """
    captured: list[tuple[str, Any]] = []

    def record(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        if re.search(r"order\s+by\s+.*created_at", sql, re.IGNORECASE | re.DOTALL):
            captured.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        yield captured


def _plan(sql: str, params: Any) -> tuple[list[str], bool, bool]:
    """The database's plan for a page query: its lines, whether the index search is bounded by
    created_at (where the page starts), and whether the database sorts the rows itself."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"EXPLAIN {sql}", params)
            lines = [row[0] for row in cursor.fetchall()]
            bounded = any("Index Cond" in line and "created_at" in line for line in lines)
            sorts = any(re.search(r"(?<!Incremental )\bSort\b", line) for line in lines)
            return lines, bounded, sorts
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        lines = [str(row[-1]) for row in cursor.fetchall()]
    searched = re.compile(r"^SEARCH \S+ USING (?:COVERING )?INDEX \S+ \((?=[^)]*created_at[<>])")
    return lines, any(searched.search(line) for line in lines), any("TEMP B-TREE" in line for line in lines)


@pytest.mark.guard("API-4")
@pytest.mark.contract(4)
@pytest.mark.timeout(SCENARIO_SECONDS)
def test_a_later_page_starts_at_its_position_in_the_index(client: Client) -> None:
    organization = OrganizationFactory.create()
    _many_invoices(organization)
    first = client.get(portal_url(organization), {"page_size": MAX_PAGE_SIZE}).json()
    next_page = first.get("next") if isinstance(first, dict) else None
    if not next_page:
        pytest.skip("not yet: the portal list answers no `next` page (the API-4 lesson checks).")

    with count_queries() as log, page_statements() as statements:
        later = client.get(next_page) if str(next_page).startswith(("http", "/")) else None
        if later is None:
            later = client.get(portal_url(organization), {"page_size": MAX_PAGE_SIZE, "cursor": next_page})
    assert later.status_code == 200, later.content[:300]
    check(statements, "The second page ran no query ordered by created_at:\n" + log.describe())
    lines, bounded, sorts = _plan(*statements[-1])
    check(
        bounded and not sorts,
        f"The database's plan for the query of the second page ({connection.vendor}):\n"
        + "\n".join(f"  {line}" for line in lines)
        + "\n"
        + (
            "It sorts the organization's invoices itself: the query does not follow the index "
            "(organization, -created_at, -id). "
            if sorts
            else "The index search is bounded by the organization only: the position is checked row by row "
            "(a Filter), after reading every invoice newer than it. On page 5,000 of 180,000 invoices that "
            "is every row before the page, on every request: an OFFSET in disguise. "
        )
        + "The keyset `created_at < c OR (created_at = c AND id < i)` alone is not a range of the index; add "
        "the redundant bound `created_at <= c` (`.filter(created_at__lte=c)`) so that the database starts "
        "reading at the position (PostgreSQL: an Index Cond on created_at; SQLite: SEARCH ... USING INDEX "
        "(organization_id=? AND created_at<?)).",
    )


def token(data: object) -> str:
    """A cursor as the reference makes them: url-safe base64 of JSON (or of raw text, or of bytes)."""
    raw = data if isinstance(data, bytes) else (data if isinstance(data, str) else json.dumps(data)).encode()
    return urlsafe_b64encode(raw).decode()


AT = "2026-01-05T09:00:00+00:00"
# query strings a client may send by mistake or on purpose; none is a page the portal gave
BAD_PORTAL_REQUESTS = {
    "page_size=0": {"page_size": "0"},
    "page_size=-5": {"page_size": "-5"},
    "page_size not a number": {"page_size": "twenty"},
    "page_size a fraction": {"page_size": "2.5"},
    "page_size empty": {"page_size": ""},
    "cursor not base64": {"cursor": "***not base64***"},
    "cursor of bad padding": {"cursor": "abcde"},
    "cursor outside ASCII": {"cursor": "é☃"},
    "cursor with a NUL": {"cursor": "ab\x00cd"},
    "cursor of text": {"cursor": token("2026-01-05|42")},
    "cursor of bytes": {"cursor": token(b"\xff\xfe\x00\x81")},
    "cursor of JSON null": {"cursor": token(None)},
    "cursor of a JSON number": {"cursor": token(42)},
    "cursor of a JSON list": {"cursor": token([AT, 42])},
    "cursor of an empty object": {"cursor": token({})},
    "cursor without an id": {"cursor": token({"created_at": AT})},
    "cursor without a created_at": {"cursor": token({"id": 42})},
    "cursor of the wrong types": {"cursor": token({"created_at": ["2026"], "id": {"n": 1}})},
    "cursor with a text id": {"cursor": token({"created_at": AT, "id": "forty-two"})},
    "cursor with a fractional id": {"cursor": token({"created_at": AT, "id": 4.5})},
    "cursor with an id beyond 64 bits": {"cursor": token({"created_at": AT, "id": 2**63})},
    "cursor with a huge id": {"cursor": token({"created_at": AT, "id": 10**30})},
    "cursor with a datetime that is not one": {"cursor": token({"created_at": "yesterday", "id": 42})},
    "cursor with an impossible date": {"cursor": token({"created_at": "2026-02-30T09:00:00+00:00", "id": 42})},
    "cursor with an impossible time": {"cursor": token({"created_at": "2026-01-05T25:61:00+00:00", "id": 42})},
    "cursor with a numeric datetime": {"cursor": token({"created_at": 10**20, "id": 42})},
    "cursor with a datetime past year 9999 in UTC": {
        "cursor": token({"created_at": "9999-12-31T23:00:00-05:00", "id": 42})
    },
    "cursor with a datetime before year 1 in UTC": {
        "cursor": token({"created_at": "0001-01-01T01:00:00+05:00", "id": 42})
    },
    "cursor of deeply nested JSON": {"cursor": token("[" * 5_000 + "]" * 5_000)},
}


# requests that are odd but name no impossible page: a correct fix may answer them (a page size
# clamped to the largest, a position before every invoice) or refuse them; it never crashes on them
ODD_PORTAL_REQUESTS = {
    "page_size above the largest": {"page_size": "1000"},
    "page_size beyond 64 bits": {"page_size": str(10**30)},
    "cursor with id 0": {"cursor": token({"created_at": AT, "id": 0})},
    "cursor with a negative id": {"cursor": token({"created_at": AT, "id": -1})},
    "cursor empty": {"cursor": ""},
}


def cursor_parameter(client: Client, organization: Organization) -> str:
    """The query parameter that carries the cursor in the portal's `next` links ("cursor" unless they say otherwise)."""
    body = client.get(portal_url(organization), {"page_size": 1}).json()
    link = body.get("next") if isinstance(body, dict) else None
    if isinstance(link, str) and "?" in link:
        names = [name for name in parse_qs(urlsplit(link).query) if name != "page_size"]
        if len(names) == 1:
            return names[0]
    return "cursor"


def portal_answer(client: Client, params: dict[str, str]) -> tuple[str, int, object, bool]:
    """What the portal list answers to `params`: the request as a client wrote it, the status, the JSON
    body, and whether the list answers in pages at all (a list in one answer has no page size or cursor
    to refuse: that is the lesson's check, not this one's). A "cursor" is sent under the name the
    portal's `next` links give it."""
    organization = OrganizationFactory.create()
    invoices_created_at(organization, hourly(3))
    client.raise_request_exception = False  # a crash answers 500, as in production
    paged = isinstance(client.get(portal_url(organization)).json(), dict)
    if "cursor" in params:
        params = {cursor_parameter(client, organization) if name == "cursor" else name: value
                  for name, value in params.items()}  # fmt: skip
    response = client.get(portal_url(organization), params)
    try:
        body = response.json()
    except ValueError:
        body = response.content[:200]
    return f"GET {portal_url(organization)} with {params!r:.200}", response.status_code, body, paged


def enveloped(body: object) -> bool:
    return isinstance(body, dict) and set(body) == {"code", "message", "details"} and isinstance(body["code"], str)


VALIDATE_EVERY_STEP = (
    "Validate the page size in the Query schema (`Field(20, ge=1, le=50)`), and each step of reading a "
    "cursor: base64, JSON, its shape, an aware datetime that is still in years 1 to 9999 in UTC, an id "
    "within 64 bits (`dojo.api_errors.DatabaseId`); turn any of them failing into a ValidationError."
)


@pytest.mark.contract(5)
@pytest.mark.guard("API-4")
@pytest.mark.parametrize("params", BAD_PORTAL_REQUESTS.values(), ids=BAD_PORTAL_REQUESTS.keys())
def test_a_bad_page_size_or_cursor_answers_a_client_error_in_the_envelope(
    client: Client, params: dict[str, str]
) -> None:
    """A bad page size or a cursor the portal never gave answers a 4xx in the error envelope, not a 500"""
    request, status, body, paged = portal_answer(client, params)

    check(
        (400 <= status < 500 and enveloped(body)) or (not paged and status == 200),
        f"{request} answered {status}: {body!r:.200}. A page size below 1 and a cursor the portal never "
        "gave are the client's mistake: answer a 4xx (422) in the error envelope of dojo.api_errors, "
        "naming the field, never a 500. " + VALIDATE_EVERY_STEP,
    )


@pytest.mark.contract(5)
@pytest.mark.guard("API-4")
@pytest.mark.parametrize("params", ODD_PORTAL_REQUESTS.values(), ids=ODD_PORTAL_REQUESTS.keys())
def test_an_odd_page_size_or_cursor_never_answers_500(client: Client, params: dict[str, str]) -> None:
    """An odd page size or cursor is answered, or refused in the error envelope, and never a 500"""
    request, status, body, _paged = portal_answer(client, params)

    check(
        status == 200 or (400 <= status < 500 and enveloped(body)),
        f"{request} answered {status}: {body!r:.200}. The portal may serve such a request (a page size "
        "clamped to the largest, a position before every invoice) or refuse it with a 4xx in the error "
        "envelope of dojo.api_errors; it never answers a 500. " + VALIDATE_EVERY_STEP,
    )


@pytest.mark.contract(6)
def test_the_admin_table_lists_every_invoice_by_number(client: Client) -> None:
    acme, globex = OrganizationFactory.create(name="Acme"), OrganizationFactory.create(name="Globex")
    invoices = [
        *InvoiceFactory.create_batch(3, organization=globex),
        *InvoiceFactory.create_batch(2, organization=acme),
    ]

    body = client.get(ADMIN_URL, {"limit": ADMIN_MAX_LIMIT}).json()

    items = body if isinstance(body, list) else body.get("items", [])
    assert [item["number"] for item in items] == sorted(invoice.number for invoice in invoices), (
        "The back-office table lists every organization's invoices, by number."
    )
    assert set(items[0]) == {*INVOICE_FIELDS, "organization"}
    assert [item["organization"] for item in items] == ["Globex"] * 3 + ["Acme"] * 2


@pytest.mark.contract(6)
@pytest.mark.lesson("API-4")
def test_the_admin_table_pages_with_limit_offset_and_a_total(client: Client) -> None:
    organizations = OrganizationFactory.create_batch(2)
    invoices = [InvoiceFactory.create(organization=organizations[index % 2]) for index in range(55)]
    by_number = sorted(invoice.number for invoice in invoices)

    body = client.get(ADMIN_URL, {"limit": 10, "offset": 10}).json()

    check(
        isinstance(body, dict) and "items" in body and "count" in body,
        f"GET {ADMIN_URL}?limit=10&offset=10 answered {describe(body)}. The back-office table shows one page "
        'and "page 2 of 6": it needs a bounded page and the total. Admin tables use limit/offset: answer '
        '{"items": [...], "count": <total>} (ninja.pagination.LimitOffsetPagination).',
    )
    numbers = [item["number"] for item in body["items"]]
    check(
        numbers == by_number[10:20] and body["count"] == len(invoices),
        f"limit=10&offset=10 gave {len(numbers)} invoices ({numbers[:1]} to {numbers[-1:]}) and count "
        f"{body['count']}; expected the 11th to the 20th invoice by number, and count {len(invoices)}.",
    )
    edges = {"limit=1": {"limit": 1}, "offset=0": {"limit": 10, "offset": 0}}
    for name, params in edges.items():
        response = client.get(ADMIN_URL, params)
        body = response.json()
        check(
            response.status_code == 200
            and [item["number"] for item in body.get("items", [])] == by_number[: params["limit"]],
            f"?{name} answered {response.status_code} {describe(body)}: the first invoices by number were expected. "
            "The smallest page and the first offset are pages too.",
        )
    greedy = client.get(ADMIN_URL, {"limit": 10_000}).json()
    check(
        len(greedy.get("items", [])) <= ADMIN_MAX_LIMIT,
        f"?limit=10000 gave {len(greedy.get('items', []))} invoices: the table can still ask for everything "
        f"at once. Cap the limit at {ADMIN_MAX_LIMIT}.",
    )


@pytest.mark.contract(6)
@pytest.mark.lesson("API-4")
def test_the_admin_tables_count_is_the_total_however_many(client: Client) -> None:
    """The admin table's count is every invoice, past any cap a "cheap count" would put on it"""
    organization = OrganizationFactory.create()
    Invoice.objects.bulk_create(InvoiceFactory.build_batch(BIG_TABLE_INVOICES, organization=organization))

    body = client.get(ADMIN_URL, {"limit": 10, "offset": BIG_TABLE_INVOICES - 5}).json()

    count = body.get("count") if isinstance(body, dict) else None
    items = body.get("items", []) if isinstance(body, dict) else []
    check(
        count == BIG_TABLE_INVOICES and len(items) == 5,
        f"With {BIG_TABLE_INVOICES:,} invoices, GET {ADMIN_URL}?limit=10&offset={BIG_TABLE_INVOICES - 5} answered "
        f"count {count} and {len(items)} invoices; expected count {BIG_TABLE_INVOICES:,} and the last 5. The "
        'table shows "page 3 of 12" from the count: a count capped to save a query (queryset[:1000].count()) '
        "or a page cut short hides the end of the table. Count the whole queryset.",
    )


# --- the total is what the database counts, however many invoices there are ------------------------

#: how many more invoices than it holds the table seems to have: more than any cap a "cheap count" sets
EXTRA_INVOICES = (1_000, 10_000, 1_000_000, 2**31, 2**62)
COUNT_AGGREGATE = re.compile(r"^(\s*SELECT\s+)(COUNT\((?:[^()]|\([^()]*\))*\))", re.IGNORECASE)
LIMITED = re.compile(r"\blimit\b", re.IGNORECASE)


@dataclass
class Counted:
    """The counts of invoices the block ran: how many answered as a bigger table, and the SQL of those cut short."""

    grown: int = 0
    cut: list[str] = field(default_factory=list)


@contextmanager
def invoices_table_grown_by(extra: int) -> Iterator[Counted]:
    """While the block runs, a count of the invoice table answers `extra` more than it holds, as a table
    that size would; a count over a LIMIT (a queryset cut short before it is counted) is noted instead."""
    counted = Counted()
    table = Invoice._meta.db_table

    def grow(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        aggregate = COUNT_AGGREGATE.match(sql)
        if aggregate is None or table not in sql:
            return execute(sql, params, many, context)
        if LIMITED.search(sql):
            counted.cut.append(sql)
            return execute(sql, params, many, context)
        counted.grown += 1
        grown_sql = f"{aggregate.group(1)}({aggregate.group(2)} + %s){sql[aggregate.end() :]}"
        return execute(grown_sql, [extra, *(params or ())], many, context)

    with connection.execute_wrapper(grow):
        yield counted


@pytest.mark.contract(6)
@pytest.mark.lesson("API-4")
def test_the_admin_tables_count_has_no_cap(client: Client) -> None:
    """The admin table's count is the table's, however many invoices it holds: no cap, whatever its value"""
    organizations = OrganizationFactory.create_batch(2)
    invoices = [InvoiceFactory.create(organization=organizations[index % 2]) for index in range(7)]

    for extra in EXTRA_INVOICES:
        with invoices_table_grown_by(extra) as counted:
            body = client.get(ADMIN_URL, {"limit": 5, "offset": 5}).json()
        count = body.get("count") if isinstance(body, dict) else None
        expected = len(invoices) + (extra if counted.grown else 0)
        check(
            count == expected and not counted.cut,
            f"GET {ADMIN_URL}?limit=5&offset=5 answered count {count} while the table held "
            f"{expected:,} invoices (the database answered every COUNT of the invoices {extra:,} more than the "
            "grading's rows, as a table of that size would"
            + (f"; the count was taken over a query cut short: {counted.cut[0][:160]}" if counted.cut else "")
            + '). The table shows "page 3 of 12" from the count, and the README asks for the number of '
            "invoices in all, however many: a count that stops at some number, in the query (a slice before "
            "count()) or after it (min(...)), hides the end of the table from the page links once the table "
            "grows past it. Count the whole queryset, once.",
        )


#: limits and offsets a client may send the admin table: negative, zero, the edges of the page size, beyond
#: 64 bits, and no number at all
ODD_LIMITS = ("-1", "0", "1", str(ADMIN_MAX_LIMIT), str(ADMIN_MAX_LIMIT + 1), "1000000", str(2**63), "1.5", "x", "")
ODD_OFFSETS = ("-1", "0", "1000000", str(2**63), str(10**30), "1.5", "x", "")


@pytest.mark.contract(6)
@pytest.mark.guard("API-4")
def test_the_admin_table_answers_a_huge_offset_without_crashing(client: Client) -> None:
    """The admin table answers any limit and offset, each odd in its own way, without a 500"""
    InvoiceFactory.create()
    client.raise_request_exception = False  # a crash answers 500, as in production

    answers = {
        (limit, offset): client.get(ADMIN_URL, {"limit": limit, "offset": offset})
        for limit, offset in itertools.product(ODD_LIMITS, ODD_OFFSETS)
    }

    crashed = {asked: response.status_code for asked, response in answers.items() if response.status_code >= 500}
    shown = ", ".join(f"limit={limit!r} offset={offset!r}" for limit, offset in sorted(crashed)[:6])
    check(
        not crashed,
        f"GET {ADMIN_URL} answered {sorted(set(crashed.values()))} to {len(crashed)} of {len(answers)} "
        f"requests: {shown}{', …' if len(crashed) > 6 else ''}. A client may send any limit and offset; each "
        "one the table cannot serve is a 422 in the error envelope that names the field, never a 500. Ninja's "
        "LimitOffsetPagination takes any offset ≥ 0, and the database cannot: an offset above "
        "9,223,372,036,854,775,807 (a 64-bit integer) overflows, in the driver or in the database. Bound "
        "both in the paginator's Input schema (`limit: int = Field(50, ge=1, le=50)`, "
        "`offset: int = Field(0, ge=0, le=2**63 - 1)`).",
    )


@pytest.mark.contract(6, 9)
@pytest.mark.guard("API-4")
def test_the_admin_table_reads_a_page_in_queries_that_do_not_grow_with_it(client: Client) -> None:
    """A page of the admin table costs the same queries, one invoice or fifty of many organizations"""
    OrganizationFactory.create()
    InvoiceFactory.create()
    with count_queries() as one:
        client.get(ADMIN_URL, {"limit": ADMIN_MAX_LIMIT})
    for organization in OrganizationFactory.create_batch(7):
        InvoiceFactory.create_batch(8, organization=organization)
    with count_queries() as many:
        body = client.get(ADMIN_URL, {"limit": ADMIN_MAX_LIMIT}).json()

    rows = len(body["items"]) if isinstance(body, dict) and isinstance(body.get("items"), list) else 0
    check(
        len(many.statements) <= len(one.statements),
        f"GET {ADMIN_URL}?limit={ADMIN_MAX_LIMIT} ran {len(one.statements)} queries for a table of one invoice, and "
        f"{len(many.statements)} for a page of {rows} invoices of 8 organizations: a query per invoice, most "
        "likely for its organization's name. Each invoice shows its organization's name; read it in the "
        'page\'s query (`select_related("organization")`). PERF-2, the whole standard: no query per row.',
    )


@pytest.mark.contract(7)
@pytest.mark.guard("API-4")
def test_the_invoice_statuses_stay_one_plain_list(client: Client) -> None:
    body = client.get(STATUSES_URL).json()

    check(
        body == [{"value": value, "label": label} for value, label in Invoice.Status.choices],
        f"GET {STATUSES_URL} answered {describe(body)}; it must stay one plain list of the four statuses. "
        "A small static enumeration (it changes with a deploy, not with data) is the rule's explicit "
        "opt-out: paginating it makes every client write a paging loop for four values. Leave it "
        "unpaginated, and say why in a comment.",
    )
