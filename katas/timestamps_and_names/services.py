from .models import Invoices, Organizations


class InvoiceNotOpenError(Exception):
    """Only an open invoice can be paid or voided."""


def create_invoice(organization: Organizations, *, number: str, amount_due_cents: int) -> Invoices:
    """Create an open invoice for the organization."""
    return Invoices.objects.create(organization=organization, number=number, amount_due_cents=amount_due_cents)


def open_invoices(organization: Organizations) -> list[Invoices]:
    """The organization's invoices still waiting for payment, by number."""
    return list(organization.invoices.filter(status=Invoices.Status.OPEN).order_by("number"))


def mark_paid(invoice: Invoices) -> None:
    """Record that the invoice was paid in full."""
    _close(invoice, Invoices.Status.PAID)


def void_invoice(invoice: Invoices) -> None:
    """Cancel an invoice that was issued by mistake."""
    _close(invoice, Invoices.Status.VOID)


def change_billing_email(organization: Organizations, billing_email: str) -> None:
    """Send the organization's invoices to another address from now on."""
    organization.billing_email = billing_email
    organization.save(update_fields=["billing_email"])


def _close(invoice: Invoices, status: Invoices.Status) -> None:
    if invoice.status != Invoices.Status.OPEN:
        raise InvoiceNotOpenError(invoice.number)
    invoice.status = status
    invoice.save(update_fields=["status"])
