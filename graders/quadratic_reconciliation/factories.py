import factory

from quadratic_reconciliation.models import Invoice, Organization


class OrganizationFactory(factory.django.DjangoModelFactory[Organization]):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Organization {n}")


class InvoiceFactory(factory.django.DjangoModelFactory[Invoice]):
    class Meta:
        model = Invoice

    organization = factory.SubFactory(OrganizationFactory)
    number = factory.Sequence(lambda n: f"INV-{n:05d}")
    amount_due_cents = factory.Sequence(lambda n: 4_900 + 100 * (n % 30))
    status = Invoice.Status.OPEN
