"""Test data for the billing app: the rows that `billing.json` used to load, made by hand."""

from datetime import date

from .models import Customer, Invoice, InvoiceLine, Organization


def make_organization() -> Organization:
    return Organization.objects.create(name="Acme GmbH", slug="acme")


def make_customer(organization: Organization | None = None) -> Customer:
    return Customer.objects.create(
        organization=organization or make_organization(), name="Globex Corporation", email="ap@globex.test"
    )


def make_invoice(customer: Customer | None = None) -> Invoice:
    return Invoice.objects.create(
        customer=customer or make_customer(),
        number="INV-00001",
        status=Invoice.Status.OPEN,
        issued_on=date(2026, 3, 1),
        due_on=date(2026, 3, 31),
    )


def make_invoice_line(invoice: Invoice | None = None) -> InvoiceLine:
    return InvoiceLine.objects.create(
        invoice=invoice or make_invoice(),
        position=1,
        description="Seat licence, March 2026",
        quantity=5,
        unit_price_cents=1_900,
    )
