from .models import Invoice, Organization


class InvoiceNotOpenError(Exception):
    """Only an open invoice can be paid or voided."""


def create_invoice(organization: Organization, *, number: str, amount_due_cents: int) -> Invoice:
    """Create an open invoice for the organization."""
    return Invoice.objects.create(organization=organization, number=number, amount_due_cents=amount_due_cents)


def open_invoices(organization: Organization) -> list[Invoice]:
    """The organization's invoices still waiting for payment, by number."""
    return list(organization.invoices.filter(status=Invoice.Status.OPEN).order_by("number"))


def mark_paid(invoice: Invoice) -> None:
    """Record that the invoice was paid in full."""
    _close(invoice, Invoice.Status.PAID)


def void_invoice(invoice: Invoice) -> None:
    """Cancel an invoice that was issued by mistake."""
    _close(invoice, Invoice.Status.VOID)


def change_billing_email(organization: Organization, billing_email: str) -> None:
    """Send the organization's invoices to another address from now on."""
    organization.billing_email = billing_email
    # auto_now sets updated_at in save(), but update_fields saves only the fields it names
    organization.save(update_fields=["billing_email", "updated_at"])


def _close(invoice: Invoice, status: Invoice.Status) -> None:
    if invoice.status != Invoice.Status.OPEN:
        raise InvoiceNotOpenError(invoice.number)
    invoice.status = status
    invoice.save(update_fields=["status", "updated_at"])
