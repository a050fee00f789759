import factory

from cursor_pagination.models import Invoice, Organization


class OrganizationFactory(factory.django.DjangoModelFactory[Organization]):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Organization {n}")


class InvoiceFactory(factory.django.DjangoModelFactory[Invoice]):
    class Meta:
        model = Invoice

    organization = factory.SubFactory(OrganizationFactory)
    number = factory.Sequence(lambda n: f"INV-{n:05d}")
    status = Invoice.Status.OPEN
    total_cents = factory.Sequence(lambda n: 1_000 + 125 * (n % 40))
    currency = "EUR"
