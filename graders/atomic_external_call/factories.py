import factory

from atomic_external_call.models import Customer, Invoice


class CustomerFactory(factory.django.DjangoModelFactory[Customer]):
    class Meta:
        model = Customer

    name = factory.Sequence(lambda n: f"Customer {n}")
    email = factory.Sequence(lambda n: f"billing{n}@customer.test")
    provider_customer_id = factory.Sequence(lambda n: f"cus_{n:06d}")


class InvoiceFactory(factory.django.DjangoModelFactory[Invoice]):
    class Meta:
        model = Invoice

    customer = factory.SubFactory(CustomerFactory)
    number = factory.Sequence(lambda n: f"INV-{n:05d}")
    amount_due_cents = 49_900
