# factory_boy's declarations (Sequence, SubFactory, ...) have no type hints: PY-2's Any at a boundary.
# mypy: disable-error-code="no-untyped-call"
from factory.declarations import Sequence, SubFactory
from factory.django import DjangoModelFactory

from cursor_pagination.models import Invoice, Organization


class OrganizationFactory(DjangoModelFactory[Organization]):
    class Meta:
        model = Organization

    name = Sequence(lambda n: f"Organization {n}")


class InvoiceFactory(DjangoModelFactory[Invoice]):
    class Meta:
        model = Invoice

    organization = SubFactory(OrganizationFactory)
    number = Sequence(lambda n: f"INV-{n:05d}")
    status = Invoice.Status.OPEN
    total_cents = Sequence(lambda n: 1_000 + 125 * (n % 40))
    currency = "EUR"
