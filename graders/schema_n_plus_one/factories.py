from datetime import date

import factory

from schema_n_plus_one.models import Customer, Invoice, InvoiceLine, Organization


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


class InvoiceFactory(factory.django.DjangoModelFactory[Invoice]):
    class Meta:
        model = Invoice

    customer = factory.SubFactory(CustomerFactory)
    number = factory.Sequence(lambda n: f"INV-{n:05d}")
    status = Invoice.Status.OPEN
    issued_on = date(2026, 3, 10)


class InvoiceLineFactory(factory.django.DjangoModelFactory[InvoiceLine]):
    class Meta:
        model = InvoiceLine

    invoice = factory.SubFactory(InvoiceFactory)
    description = factory.Sequence(lambda n: f"Seat licence, month {n}")
    # some lines are of zero quantity or free: they are still lines of the invoice
    quantity = factory.Sequence(lambda n: n % 6)
    unit_price_cents = factory.Sequence(lambda n: 250 * (n % 7))
