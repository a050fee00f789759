# factory_boy's declarations (Sequence, SubFactory, ...) have no type hints: PY-2's Any at a boundary.
# mypy: disable-error-code="no-untyped-call"
from factory.declarations import Sequence, SubFactory
from factory.django import DjangoModelFactory

from schemas_not_models.models import Customer, Organization


class OrganizationFactory(DjangoModelFactory[Organization]):
    class Meta:
        model = Organization

    name = Sequence(lambda n: f"Organization {n}")


class CustomerFactory(DjangoModelFactory[Customer]):
    class Meta:
        model = Customer

    organization = SubFactory(OrganizationFactory)
    name = Sequence(lambda n: f"Customer {n}")
    email = Sequence(lambda n: f"billing{n}@customer.test")
    currency = "EUR"
    provider_customer_id = Sequence(lambda n: f"cus_{n:06d}")
    internal_notes = "Disputes every invoice; do not extend credit."
