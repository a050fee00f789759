from datetime import date, timedelta

import factory

from missing_index.models import Invoice, Organization


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
    amount_due_cents = factory.Sequence(lambda n: 5_000 + 125 * (n % 40))
    status = Invoice.Status.OPEN
    due_on = factory.Sequence(lambda n: date(2026, 1, 1) + timedelta(days=n % 90))
