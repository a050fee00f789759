# factory_boy's declarations (Sequence, SubFactory, ...) have no type hints: PY-2's Any at a boundary.
# mypy: disable-error-code="no-untyped-call"
from datetime import date

from factory.declarations import Sequence, SubFactory
from factory.django import DjangoModelFactory

from type_hints.models import Customer, Invoice, InvoiceLine


class CustomerFactory(DjangoModelFactory[Customer]):
    class Meta:
        model = Customer

    name = Sequence(lambda n: f"Customer {n}")
    email = Sequence(lambda n: f"billing{n}@customer.test")


class InvoiceFactory(DjangoModelFactory[Invoice]):
    class Meta:
        model = Invoice

    customer = SubFactory(CustomerFactory)
    number = Sequence(lambda n: f"INV-{n:05d}")
    status = Invoice.Status.OPEN
    due_on = date(2026, 3, 31)
    amount_due_cents = 11_900


class InvoiceLineFactory(DjangoModelFactory[InvoiceLine]):
    class Meta:
        model = InvoiceLine

    invoice = SubFactory(InvoiceFactory)
    description = Sequence(lambda n: f"Seat licence, month {n}")
    quantity = 1
    unit_price_cents = 10_000
