# factory_boy's declarations (Sequence, SubFactory, ...) have no type hints: PY-2's Any at a boundary.
# mypy: disable-error-code="no-untyped-call"
from factory.declarations import Sequence, SubFactory
from factory.django import DjangoModelFactory

from at_least_once_consumer.models import Organization, Subscription


class OrganizationFactory(DjangoModelFactory[Organization]):
    class Meta:
        model = Organization

    name = Sequence(lambda n: f"Organization {n}")
    billing_email = Sequence(lambda n: f"billing{n}@organization.test")


class SubscriptionFactory(DjangoModelFactory[Subscription]):
    class Meta:
        model = Subscription

    organization = SubFactory(OrganizationFactory)
    provider_ref = Sequence(lambda n: f"sub_{n:06d}")
    plan = Subscription.Plan.TEAM
    seats = 10
