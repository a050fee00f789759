# factory_boy's declarations (Sequence, SubFactory, ...) have no type hints: PY-2's Any at a boundary.
# mypy: disable-error-code="no-untyped-call"
from datetime import date, timedelta

from factory.declarations import Sequence, SubFactory
from factory.django import DjangoModelFactory

from raw_sql_injection.models import Customer, Invoice, Organization


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
    issued_on = Sequence(lambda n: date(2026, 1, 1) + timedelta(days=n % 90))
    total_cents = Sequence(lambda n: 10_000 + 125 * n)
