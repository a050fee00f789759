# factory_boy's declarations (Sequence, SubFactory, ...) have no type hints: PY-2's Any at a boundary.
# mypy: disable-error-code="no-untyped-call"
from factory.declarations import Sequence, SubFactory
from factory.django import DjangoModelFactory

from replayed_side_effects.models import Customer, Invoice


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
    amount_due_cents = 12_000
