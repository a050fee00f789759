# factory_boy's declarations (Sequence, SubFactory, ...) have no type hints: PY-2's Any at a boundary.
# mypy: disable-error-code="no-untyped-call"
from datetime import UTC, datetime, timedelta

from factory.declarations import LazyAttribute, Sequence, SubFactory
from factory.django import DjangoModelFactory

from utc_datetimes.models import Invoice, Organization


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
    amount_due_cents = Sequence(lambda n: 10_000 + 100 * (n % 50))
    status = Invoice.Status.OPEN
    due_at = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    issued_at = LazyAttribute(lambda invoice: invoice.due_at - timedelta(days=30))
