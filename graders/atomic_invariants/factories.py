# factory_boy's declarations (Sequence, SubFactory, ...) have no type hints: PY-2's Any at a boundary.
# mypy: disable-error-code="no-untyped-call"
from factory.declarations import Sequence, SubFactory
from factory.django import DjangoModelFactory

from atomic_invariants.models import Organization, Subscription


class OrganizationFactory(DjangoModelFactory[Organization]):
    class Meta:
        model = Organization

    name = Sequence(lambda n: f"Organization {n}")


class SubscriptionFactory(DjangoModelFactory[Subscription]):
    class Meta:
        model = Subscription

    organization = SubFactory(OrganizationFactory)
    name = Sequence(lambda n: f"Team {n}")
    seats = 10
