# factory_boy's declarations (Sequence, SubFactory, ...) have no type hints: PY-2's Any at a boundary.
# mypy: disable-error-code="no-untyped-call"
from datetime import date

from factory.declarations import Sequence, SubFactory
from factory.django import DjangoModelFactory

from on_commit_events.models import BillingPeriod, Invoice, InvoiceLine, LedgerEntry, Organization


class OrganizationFactory(DjangoModelFactory[Organization]):
    class Meta:
        model = Organization

    name = Sequence(lambda n: f"Organization {n}")


class BillingPeriodFactory(DjangoModelFactory[BillingPeriod]):
    class Meta:
        model = BillingPeriod

    starts_on = Sequence(lambda n: date(2026 + n // 12, n % 12 + 1, 1))


class InvoiceFactory(DjangoModelFactory[Invoice]):
    class Meta:
        model = Invoice

    organization = SubFactory(OrganizationFactory)
    billing_period = SubFactory(BillingPeriodFactory)
    number = Sequence(lambda n: f"INV-{n:05d}")


class InvoiceLineFactory(DjangoModelFactory[InvoiceLine]):
    class Meta:
        model = InvoiceLine

    invoice = SubFactory(InvoiceFactory)
    description = Sequence(lambda n: f"Seat licence, month {n}")
    quantity = 1
    unit_price_cents = 1_000


class LedgerEntryFactory(DjangoModelFactory[LedgerEntry]):
    class Meta:
        model = LedgerEntry

    invoice = SubFactory(InvoiceFactory)
    kind = LedgerEntry.Kind.RECEIVABLE
    amount_cents = 1_000
