# factory_boy's declarations (Sequence, SubFactory, ...) have no type hints: PY-2's Any at a boundary.
# mypy: disable-error-code="no-untyped-call"
"""Test data for the billing app: a factory_boy factory for every model.

Each factory makes a valid row with unique values (Sequence), and its parents through SubFactory:
`InvoiceLineFactory()` creates a line, its invoice, customer and organization; `.build()` makes the
same graph in memory, without the database. Tests override only the fields they are about.
"""

from datetime import date, timedelta

from factory.declarations import LazyAttribute, Sequence, SubFactory
from factory.django import DjangoModelFactory

from .models import Customer, Invoice, InvoiceLine, Organization


class OrganizationFactory(DjangoModelFactory[Organization]):
    class Meta:
        model = Organization

    name = Sequence(lambda n: f"Organization {n}")
    slug = Sequence(lambda n: f"organization-{n}")


class CustomerFactory(DjangoModelFactory[Customer]):
    class Meta:
        model = Customer

    organization = SubFactory(OrganizationFactory)
    name = Sequence(lambda n: f"Customer {n}")
    email = Sequence(lambda n: f"billing{n}@customer.test")


class InvoiceFactory(DjangoModelFactory[Invoice]):
    class Meta:
        model = Invoice

    customer = SubFactory(CustomerFactory)
    number = Sequence(lambda n: f"INV-{n:05d}")
    status = Invoice.Status.OPEN
    issued_on = date(2026, 3, 1)
    due_on = LazyAttribute(lambda invoice: invoice.issued_on and invoice.issued_on + timedelta(days=30))


class InvoiceLineFactory(DjangoModelFactory[InvoiceLine]):
    class Meta:
        model = InvoiceLine

    invoice = SubFactory(InvoiceFactory)
    # a sequence counts for the whole test run: wrapped, so that it stays within the smallint column
    position = Sequence(lambda n: n % 32_767 + 1)
    description = Sequence(lambda n: f"Seat licence {n}")
    quantity = 5
    unit_price_cents = 1_900
