"""Grader of `cursor_pagination`: bounded pages; a cursor that gives each invoice once; limit/offset for admin."""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.test import Client

from cursor_pagination.models import Invoice, Organization
from dojo.grading import check

from .factories import InvoiceFactory, OrganizationFactory

pytestmark = [pytest.mark.django_db, pytest.mark.urls("cursor_pagination.api")]

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
PAGE_SIZE = 20
MAX_PAGE_SIZE = 50
ADMIN_URL = "/api/v1/admin/invoices"
ADMIN_MAX_LIMIT = 50
STATUSES_URL = "/api/v1/invoice-statuses"
INVOICE_FIELDS = {"id", "number", "status", "total_cents", "currency", "created_at"}
MAX_PAGES = 100


def portal_url(organization: Organization) -> str:
    return f"/api/v1/organizations/{organization.pk}/invoices"


def hourly(count: int, *, start: datetime = START) -> list[datetime]:
    return [start + timedelta(hours=hour) for hour in range(count)]


def invoices_created_at(organization: Organization, moments: Iterable[datetime]) -> list[Invoice]:
    """One invoice per moment, each created (auto_now_add) at exactly that instant."""
    invoices = []
    for moment in moments:
        with time_machine.travel(moment, tick=False):
            invoices.append(InvoiceFactory(organization=organization))
    return invoices


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
        assert response.status_code == 200, f"GET {url} answered {response.status_code}: {response.content[:300]!r}"
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


def test_the_portal_lists_the_organizations_invoices_newest_first(client: Client) -> None:
    organization = OrganizationFactory()
    invoices = invoices_created_at(organization, [START + timedelta(days=day) for day in (3, 0, 7, 1, 5)])
    invoices_created_at(OrganizationFactory(), hourly(2))  # another organization's invoices

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


@pytest.mark.lesson("API-4")
def test_the_portal_list_answers_in_bounded_pages(client: Client) -> None:
    organization = OrganizationFactory()
    invoices_created_at(organization, hourly(60))
    url = portal_url(organization)

    first = client.get(url).json()

    check(
        isinstance(first, dict) and "results" in first and "next" in first,
        f"GET {url} answered {describe(first)}: every invoice of the organization in one response. With "
        "180,000 invoices that is one enormous query, a huge JSON body and a worker's memory gone, and "
        "the list grows every day. Answer one page at a time, with a cursor: "
        '{"results": [...], "next": "<URL of the next page>"}. Django Ninja has '
        "ninja.pagination.CursorPagination; a paginator of your own is fine too.",
    )
    check(
        len(first["results"]) == PAGE_SIZE and first["next"],
        f"With 60 invoices, the first page held {len(first['results'])} invoices and `next` was "
        f"{first['next']!r}. A page holds {PAGE_SIZE} invoices by default, and `next` points to the rest.",
    )
    fewer = client.get(url, {"page_size": 5}).json()
    check(
        len(fewer.get("results", [])) == 5,
        f"?page_size=5 gave {len(fewer.get('results', []))} invoices: a client may ask for smaller pages.",
    )
    greedy = client.get(url, {"page_size": 1000}).json()
    check(
        len(greedy.get("results", [])) <= MAX_PAGE_SIZE,
        f"?page_size=1000 gave {len(greedy.get('results', []))} invoices: a client can still ask for "
        f"everything at once. Cap the page size at {MAX_PAGE_SIZE}.",
    )


@pytest.mark.guard("API-4")
def test_walking_next_gives_each_invoice_once_when_timestamps_tie(client: Client) -> None:
    organization = OrganizationFactory()
    tied_at = START + timedelta(days=1)
    invoices = [
        *invoices_created_at(organization, hourly(4)),
        *invoices_created_at(organization, [tied_at] * 12),  # e.g. one import, one instant
        *invoices_created_at(organization, hourly(4, start=tied_at + timedelta(hours=1))),
    ]

    seen = walk(client, portal_url(organization), {"page_size": 5}).numbers

    expected = newest_first(invoices)
    missing = [number for number in expected if number not in seen]
    check(
        seen == expected,
        f"12 of the organization's {len(invoices)} invoices were created at the same instant. Following "
        f"`next` with page_size=5 gave {len(seen)} invoices; missing: {missing or 'none'}; repeated: "
        f"{repeated(seen) or 'none'}"
        f"{'' if missing or repeated(seen) else '; the order differs from newest first'}. A cursor that "
        "remembers only the last created_at cannot say where, among invoices of one instant, the page "
        "ended: `created_at < last` skips the rest of them, `<=` repeats them. Order by "
        '("-created_at", "-id") so that the order is total, and let the cursor remember the position in '
        "that order, the pair (created_at, id), not the timestamp alone.",
    )


@pytest.mark.guard("API-4")
def test_walking_next_gives_each_invoice_once_when_invoices_arrive_meanwhile(client: Client) -> None:
    organization = OrganizationFactory()
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


def test_the_admin_table_lists_every_invoice_by_number(client: Client) -> None:
    acme, globex = OrganizationFactory(name="Acme"), OrganizationFactory(name="Globex")
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


@pytest.mark.lesson("API-4")
def test_the_admin_table_pages_with_limit_offset_and_a_total(client: Client) -> None:
    organizations = OrganizationFactory.create_batch(2)
    invoices = [InvoiceFactory(organization=organizations[index % 2]) for index in range(55)]
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
    greedy = client.get(ADMIN_URL, {"limit": 10_000}).json()
    check(
        len(greedy.get("items", [])) <= ADMIN_MAX_LIMIT,
        f"?limit=10000 gave {len(greedy.get('items', []))} invoices: the table can still ask for everything "
        f"at once. Cap the limit at {ADMIN_MAX_LIMIT}.",
    )


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
