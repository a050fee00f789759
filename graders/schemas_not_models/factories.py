import factory

from schemas_not_models.models import Customer, Organization


class OrganizationFactory(factory.django.DjangoModelFactory[Organization]):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Organization {n}")


class CustomerFactory(factory.django.DjangoModelFactory[Customer]):
    class Meta:
        model = Customer

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Customer {n}")
    email = factory.Sequence(lambda n: f"billing{n}@customer.test")
    currency = "EUR"
    provider_customer_id = factory.Sequence(lambda n: f"cus_{n:06d}")
    internal_notes = "Disputes every invoice; do not extend credit."
