"""Grader of `n_plus_one`: the statement is unchanged and its query count no longer grows per invoice."""

from datetime import date

import pytest

from dojo.grading import check, count_queries, unexpected_edits
from dojo.manifest import kata_by_slug
from n_plus_one.models import Invoice, Organization
from n_plus_one.services import StatementLine, monthly_statement

from .factories import CustomerFactory, InvoiceFactory, InvoiceLineFactory, OrganizationFactory

pytestmark = pytest.mark.django_db

QUERY_BUDGET = 2  # one for the invoices joined to their customers, one for all their lines


def expected_statement(invoices: list[Invoice]) -> list[StatementLine]:
    """The statement computed straight from the rows the test created."""
    rows = []
    for invoice in sorted(invoices, key=lambda i: (i.issued_on or date.min, i.number)):
        lines = list(invoice.lines.all())
        assert invoice.issued_on is not None
        rows.append(
            StatementLine(
                invoice_number=invoice.number,
                customer_name=invoice.customer.name,
                issued_on=invoice.issued_on,
                line_count=len(lines),
                total_cents=sum(line.quantity * line.unit_price_cents for line in lines),
            )
        )
    return rows


def organization_with_invoices(count: int, lines_each: int = 3) -> Organization:
    organization = OrganizationFactory()
    customers = CustomerFactory.create_batch(3, organization=organization)
    for index in range(count):
        invoice = InvoiceFactory(customer=customers[index % 3], issued_on=date(2026, 3, 1 + index % 28))
        InvoiceLineFactory.create_batch(lines_each, invoice=invoice)
    return organization


def test_statement_lists_the_months_invoices_in_order_with_totals() -> None:
    organization = OrganizationFactory()
    alice, bob = CustomerFactory.create_batch(2, organization=organization)
    in_month = [
        InvoiceFactory(customer=bob, issued_on=date(2026, 3, 31)),
        InvoiceFactory(customer=alice, issued_on=date(2026, 3, 1)),
        InvoiceFactory(customer=alice, issued_on=date(2026, 3, 1), status=Invoice.Status.PAID),
        InvoiceFactory(customer=bob, issued_on=date(2026, 3, 15)),  # an invoice with no lines
    ]
    for invoice in in_month[:3]:
        InvoiceLineFactory.create_batch(2, invoice=invoice)
    InvoiceFactory(customer=alice, issued_on=date(2026, 4, 1))  # next month
    InvoiceFactory(customer=alice, issued_on=None, status=Invoice.Status.DRAFT)  # not issued
    InvoiceFactory(issued_on=date(2026, 3, 5))  # another organization's invoice

    statement = monthly_statement(organization.pk, 2026, 3)

    assert statement == expected_statement(in_month), (
        "The statement changed: it must list the organization's non-draft invoices issued that month, "
        "ordered by issue date then number, with each customer's name, line count and total."
    )


def test_statement_of_a_month_without_invoices_is_empty() -> None:
    organization = organization_with_invoices(3)

    assert monthly_statement(organization.pk, 2025, 12) == []


@pytest.mark.parametrize("lines_each", [0, 4])
def test_statement_matches_on_larger_months(lines_each: int) -> None:
    organization = organization_with_invoices(30, lines_each=lines_each)
    invoices = list(Invoice.objects.filter(customer__organization=organization))

    assert monthly_statement(organization.pk, 2026, 3) == expected_statement(invoices)


@pytest.mark.lesson("PERF-2")
def test_query_count_does_not_grow_with_invoices() -> None:
    counts: dict[int, int] = {}
    logs = {}
    listed: dict[int, int] = {}
    for size in (1, 10, 50):
        organization = organization_with_invoices(size)
        with count_queries() as log:
            statement = monthly_statement(organization.pk, 2026, 3)
        counts[size], logs[size] = log.count, log
        listed[size] = len({line.invoice_number for line in statement})

    check(
        listed == {1: 1, 10: 10, 50: 50},
        f"The statements of months with 1, 10 and 50 invoices listed {listed[1]}, {listed[10]} and "
        f"{listed[50]} distinct invoices: every invoice of the month must be on the statement, however many.",
    )

    check(
        len(set(counts.values())) == 1,
        f"Building the statement ran {counts[1]} queries for 1 invoice, {counts[10]} for 10 and "
        f"{counts[50]} for 50: some query runs once per invoice (the N+1 pattern). Load the related "
        "rows for all invoices at once: select_related() for a foreign key, prefetch_related() for "
        "a reverse relation.\n" + logs[10].describe(),
    )


@pytest.mark.lesson("PERF-2")
def test_query_count_is_within_budget() -> None:
    organization = organization_with_invoices(10)

    with count_queries() as log:
        monthly_statement(organization.pk, 2026, 3)

    check(
        log.count <= QUERY_BUDGET,
        f"The statement for 10 invoices ran {log.count} queries; it needs at most {QUERY_BUDGET}: one "
        "for the invoices with their customers, one for all of their lines.\n" + log.describe(),
    )


@pytest.mark.guard("PERF-2")
def test_only_the_files_to_edit_were_changed() -> None:
    """Only services.py was changed: the models are as shipped."""
    files = kata_by_slug()["n_plus_one"].files
    edited = unexpected_edits("n_plus_one", files)
    check(
        not edited,
        f"You changed {', '.join(edited)}, which this kata asks you to leave as shipped: the fix belongs in "
        f"{', '.join(files)}. (A default manager that always joins and prefetches, for example, hides the "
        "N+1 from this statement and makes every other query of the model pay for it.) Put the file back "
        "as shipped "
        "(`uv run dojo reset n_plus_one` restores the whole kata, after backing up your version) and fix "
        "the query where it is built.",
    )
