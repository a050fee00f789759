from datetime import date

import factory

from on_commit_events.models import BillingPeriod, Invoice, InvoiceLine, LedgerEntry, Organization


class OrganizationFactory(factory.django.DjangoModelFactory[Organization]):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Organization {n}")


class BillingPeriodFactory(factory.django.DjangoModelFactory[BillingPeriod]):
    class Meta:
        model = BillingPeriod

    starts_on = factory.Sequence(lambda n: date(2026 + n // 12, n % 12 + 1, 1))


class InvoiceFactory(factory.django.DjangoModelFactory[Invoice]):
    class Meta:
        model = Invoice

    organization = factory.SubFactory(OrganizationFactory)
    billing_period = factory.SubFactory(BillingPeriodFactory)
    number = factory.Sequence(lambda n: f"INV-{n:05d}")


class InvoiceLineFactory(factory.django.DjangoModelFactory[InvoiceLine]):
    class Meta:
        model = InvoiceLine

    invoice = factory.SubFactory(InvoiceFactory)
    description = factory.Sequence(lambda n: f"Seat licence, month {n}")
    quantity = 1
    unit_price_cents = 1_000


class LedgerEntryFactory(factory.django.DjangoModelFactory[LedgerEntry]):
    class Meta:
        model = LedgerEntry

    invoice = factory.SubFactory(InvoiceFactory)
    kind = LedgerEntry.Kind.RECEIVABLE
    amount_cents = 1_000
