# factory_boy's declarations (Sequence, SubFactory, ...) have no type hints: PY-2's Any at a boundary.
# mypy: disable-error-code="no-untyped-call"
from datetime import date, timedelta

from factory.declarations import Sequence, SubFactory
from factory.django import DjangoModelFactory

from missing_index.models import Invoice, Organization


class OrganizationFactory(DjangoModelFactory[Organization]):
    class Meta:
        model = Organization

    name = Sequence(lambda n: f"Organization {n}")


class InvoiceFactory(DjangoModelFactory[Invoice]):
    class Meta:
        model = Invoice

    organization = SubFactory(OrganizationFactory)
    number = Sequence(lambda n: f"INV-{n:05d}")
    customer_name = Sequence(lambda n: f"Customer {n}")
    amount_due_cents = Sequence(lambda n: 5_000 + 125 * (n % 40))
    status = Invoice.Status.OPEN
    due_on = Sequence(lambda n: date(2026, 1, 1) + timedelta(days=n % 90))
