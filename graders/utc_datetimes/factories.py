from datetime import UTC, datetime, timedelta

import factory

from utc_datetimes.models import Invoice, Organization


class OrganizationFactory(factory.django.DjangoModelFactory[Organization]):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Organization {n}")


class InvoiceFactory(factory.django.DjangoModelFactory[Invoice]):
    class Meta:
        model = Invoice

    organization = factory.SubFactory(OrganizationFactory)
    number = factory.Sequence(lambda n: f"INV-{n:05d}")
    customer_name = factory.Sequence(lambda n: f"Customer {n}")
    amount_due_cents = factory.Sequence(lambda n: 10_000 + 100 * (n % 50))
    status = Invoice.Status.OPEN
    due_at = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    issued_at = factory.LazyAttribute(lambda invoice: invoice.due_at - timedelta(days=30))
