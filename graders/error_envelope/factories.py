# factory_boy's declarations (Sequence, SubFactory, ...) have no type hints: PY-2's Any at a boundary.
# mypy: disable-error-code="no-untyped-call"
from factory.declarations import Sequence, SubFactory
from factory.django import DjangoModelFactory

from error_envelope.models import ApiKey, Invoice, Organization


class OrganizationFactory(DjangoModelFactory[Organization]):
    class Meta:
        model = Organization

    name = Sequence(lambda n: f"Organization {n}")


class ApiKeyFactory(DjangoModelFactory[ApiKey]):
    class Meta:
        model = ApiKey

    organization = SubFactory(OrganizationFactory)
    key = Sequence(lambda n: f"key_live_{n:08d}")
    can_write = True


class InvoiceFactory(DjangoModelFactory[Invoice]):
    class Meta:
        model = Invoice

    organization = SubFactory(OrganizationFactory)
    number = Sequence(lambda n: f"INV-{n:05d}")
    customer_email = Sequence(lambda n: f"ap{n}@customer.test")
    status = Invoice.Status.OPEN
    total_cents = 12_000
    currency = "EUR"
