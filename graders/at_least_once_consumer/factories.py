import factory

from at_least_once_consumer.models import Organization, Subscription


class OrganizationFactory(factory.django.DjangoModelFactory[Organization]):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Organization {n}")
    billing_email = factory.Sequence(lambda n: f"billing{n}@organization.test")


class SubscriptionFactory(factory.django.DjangoModelFactory[Subscription]):
    class Meta:
        model = Subscription

    organization = factory.SubFactory(OrganizationFactory)
    provider_ref = factory.Sequence(lambda n: f"sub_{n:06d}")
    plan = Subscription.Plan.TEAM
    seats = 10
