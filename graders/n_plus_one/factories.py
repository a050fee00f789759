# factory_boy's declarations (Sequence, SubFactory, ...) have no type hints: PY-2's Any at a boundary.
# mypy: disable-error-code="no-untyped-call"
from datetime import date

from factory.declarations import Sequence, SubFactory
from factory.django import DjangoModelFactory

from n_plus_one.models import Customer, Invoice, InvoiceLine, Organization


class OrganizationFactory(DjangoModelFactory[Organization]):
    class Meta:
        model = Organization

    name = Sequence(lambda n: f"Organization {n}")


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
    issued_on = date(2026, 3, 10)


class InvoiceLineFactory(DjangoModelFactory[InvoiceLine]):
    class Meta:
        model = InvoiceLine

    invoice = SubFactory(InvoiceFactory)
    description = Sequence(lambda n: f"Seat licence, month {n}")
    # some lines are of zero quantity or free: they are still lines of the invoice
    quantity = Sequence(lambda n: n % 6)
    unit_price_cents = Sequence(lambda n: 250 * (n % 7))
