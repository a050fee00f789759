# factory_boy's declarations (Sequence, SubFactory, ...) have no type hints: PY-2's Any at a boundary.
# mypy: disable-error-code="no-untyped-call"
from factory.declarations import Sequence
from factory.django import DjangoModelFactory

from idempotent_retries.models import Invoice


class InvoiceFactory(DjangoModelFactory[Invoice]):
    class Meta:
        model = Invoice

    number = Sequence(lambda n: f"INV-{n:05d}")
    amount_due_cents = 12_000
