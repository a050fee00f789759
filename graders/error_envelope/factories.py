import factory

from error_envelope.models import ApiKey, Invoice, Organization


class OrganizationFactory(factory.django.DjangoModelFactory[Organization]):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Organization {n}")


class ApiKeyFactory(factory.django.DjangoModelFactory[ApiKey]):
    class Meta:
        model = ApiKey

    organization = factory.SubFactory(OrganizationFactory)
    key = factory.Sequence(lambda n: f"key_live_{n:08d}")
    can_write = True


class InvoiceFactory(factory.django.DjangoModelFactory[Invoice]):
    class Meta:
        model = Invoice

    organization = factory.SubFactory(OrganizationFactory)
    number = factory.Sequence(lambda n: f"INV-{n:05d}")
    customer_email = factory.Sequence(lambda n: f"ap{n}@customer.test")
    status = Invoice.Status.OPEN
    total_cents = 12_000
    currency = "EUR"
