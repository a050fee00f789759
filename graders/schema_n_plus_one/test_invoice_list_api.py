"""Grader of `schema_n_plus_one`: the invoice list answers the same, in queries that do not grow per invoice."""

from datetime import date, timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from dojo.grading import QueryLog, check, count_queries, unexpected_edits
from dojo.manifest import kata_by_slug
from schema_n_plus_one.models import Invoice, Organization
from schema_n_plus_one.services import PAGE_SIZE

from .factories import CustomerFactory, InvoiceFactory, InvoiceLineFactory, OrganizationFactory

SLUG = "schema_n_plus_one"
QUERY_BUDGET = 2  # one for the invoices joined to their customers, one for all their lines

# a learner's deprecated-but-working Ninja call is reported, not turned into a failure by our own
# warnings-as-errors setting
pytestmark = [
    pytest.mark.django_db,
    pytest.mark.urls(f"{SLUG}.api"),
    pytest.mark.filterwarnings("default::DeprecationWarning"),
]


def list_url(organization_id: int) -> str:
    return reverse(f"{SLUG}:list_invoices", kwargs={"organization_id": organization_id})


def expected_body(organization: Organization) -> list[dict[str, Any]]:
    """The list worked out from the rows the test created, without the code under test."""
    invoices = [
        invoice
        for invoice in Invoice.objects.filter(customer__organization=organization)
        if invoice.status != Invoice.Status.DRAFT
    ]
    invoices.sort(key=lambda i: (i.issued_on or date.min, i.number), reverse=True)
    body = []
    for invoice in invoices[:PAGE_SIZE]:
        lines = list(invoice.lines.all())
        body.append(
            {
                "number": invoice.number,
                "status": invoice.status,
                "issued_on": invoice.issued_on.isoformat() if invoice.issued_on else None,
                "customer_name": invoice.customer.name,
                "line_count": len(lines),
                "total_cents": sum(line.quantity * line.unit_price_cents for line in lines),
            }
        )
    return body


def organization_with_invoices(count: int, lines_each: int = 3) -> Organization:
    organization = OrganizationFactory()
    customers = CustomerFactory.create_batch(3, organization=organization)
    for index in range(count):
        invoice = InvoiceFactory(customer=customers[index % 3], issued_on=date(2026, 3, 1) + timedelta(index % 40))
        InvoiceLineFactory.create_batch(lines_each, invoice=invoice)
    return organization


def requested(client: Client, organization_id: int) -> tuple[Any, QueryLog]:
    """The list's JSON body, and the queries the whole request ran: view, service and schema."""
    with count_queries() as log:
        response = client.get(list_url(organization_id))
    assert response.status_code == 200, response.content[:300]
    return response.json(), log


# --- what the code does: these pass on the starter and must keep passing ---------------------------


def test_the_list_shows_the_newest_invoices_with_customer_lines_and_total(client: Client) -> None:
    organization = OrganizationFactory()
    alice, bob = CustomerFactory.create_batch(2, organization=organization)
    for invoice in [
        InvoiceFactory(customer=bob, issued_on=date(2026, 3, 31)),
        InvoiceFactory(customer=alice, issued_on=date(2026, 3, 1), status=Invoice.Status.PAID),
        InvoiceFactory(customer=alice, issued_on=date(2026, 3, 1)),  # the same day: by number
    ]:
        InvoiceLineFactory.create_batch(2, invoice=invoice)
    InvoiceFactory(customer=bob, issued_on=date(2026, 2, 28))  # an invoice with no lines
    InvoiceFactory(customer=alice, issued_on=None, status=Invoice.Status.DRAFT)  # a draft
    InvoiceFactory(issued_on=date(2026, 3, 5))  # another organization's invoice

    body, _log = requested(client, organization.pk)

    assert body == expected_body(organization), (
        "The list changed: it must show the organization's invoices that are not drafts, newest first "
        "(by issue date, then number), each with its status, customer's name, line count and total."
    )


@pytest.mark.parametrize("lines_each", [0, 4])
def test_the_list_matches_on_larger_organizations(client: Client, lines_each: int) -> None:
    organization = organization_with_invoices(PAGE_SIZE + 5, lines_each=lines_each)

    body, _log = requested(client, organization.pk)

    assert body == expected_body(organization)
    assert len(body) == PAGE_SIZE


def test_an_unknown_organization_has_an_empty_list_and_a_bad_id_the_error_envelope(client: Client) -> None:
    assert client.get(list_url(987_654)).json() == []
    for bad in ("0", "99999999999999999999", "abc"):
        response = client.get(f"/api/v1/organizations/{bad}/invoices")
        assert response.status_code == 422, response.content[:300]
        assert set(response.json()) == {"code", "message", "details"}


# --- the lesson ---------------------------------------------------------------------------------------


@pytest.mark.lesson("PERF-2")
def test_query_count_does_not_grow_with_invoices(client: Client) -> None:
    counts: dict[int, int] = {}
    listed: dict[int, int] = {}
    logs = {}
    for size in (1, 10, 40):
        body, logs[size] = requested(client, organization_with_invoices(size).pk)
        counts[size], listed[size] = logs[size].count, len({item["number"] for item in body})

    check(
        listed == {1: 1, 10: 10, 40: 40},
        f"The lists of organizations with 1, 10 and 40 invoices showed {listed[1]}, {listed[10]} and "
        f"{listed[40]} distinct invoices: every invoice up to {PAGE_SIZE} must be listed.",
    )
    check(
        len(set(counts.values())) == 1,
        f"The request ran {counts[1]} queries for 1 invoice, {counts[10]} for 10 and {counts[40]} for 40: "
        "some query runs once per invoice (the N+1 pattern). The service's queryset is one query, but "
        "the response schema reads invoice.customer and invoice.lines for every invoice it serializes, "
        "after the view has returned. Load what the schema reads with the list: select_related() for "
        "the customer, prefetch_related() for the lines.\n" + logs[10].describe(),
    )


@pytest.mark.lesson("PERF-2")
def test_query_count_is_within_budget(client: Client) -> None:
    organization = organization_with_invoices(10)

    _body, log = requested(client, organization.pk)

    check(
        log.count <= QUERY_BUDGET,
        f"The list of 10 invoices ran {log.count} queries; it needs at most {QUERY_BUDGET}: one for the "
        "invoices with their customers, one for all of their lines. A cache of customers kept between "
        "requests does not count as loading them: it serves stale names, and still queries on a miss.\n"
        + log.describe(),
    )


@pytest.mark.guard("PERF-2")
def test_only_the_files_to_edit_were_changed() -> None:
    """Only services.py and api.py were changed: the models are as shipped."""
    files = kata_by_slug()[SLUG].files
    edited = unexpected_edits(SLUG, files)
    check(
        not edited,
        f"You changed {', '.join(edited)}, which this kata asks you to leave as shipped: the fix belongs in "
        f"{' or '.join(files)}. (A default manager that always joins and prefetches, for example, hides the "
        "N+1 from this endpoint and makes every other query of the model pay for it.) Put the file back "
        f"as shipped (`uv run dojo reset {SLUG}` restores the whole kata, after backing up your version).",
    )
