from .clients import EmailClient
from .models import Invoice


def send_invoice_email(invoice_number: str, *, emails: EmailClient) -> Invoice:
    """Email the customer their invoice, unless the email provider has suppressed their address.

    The provider suppresses an address after a hard bounce or a spam complaint. Sending to it anyway
    hurts our sender reputation, so the invoice is marked instead, for the account manager to follow up.
    """
    invoice = Invoice.objects.select_related("customer").get(number=invoice_number)
    address = invoice.customer.email
    if emails.is_suppressed(address):
        invoice.mark_email_suppressed()
        invoice.save(update_fields=["email_status", "updated_at"])
        return invoice

    message_id = emails.send(
        to=address,
        subject=f"Invoice {invoice.number}",
        text=invoice_text(invoice),
        # the same invoice is never emailed twice, even if this request is retried
        idempotency_key=f"invoice-email-{invoice.number}",
    )
    invoice.mark_emailed(message_id)
    invoice.save(update_fields=["email_status", "email_message_id", "updated_at"])
    return invoice


def invoice_text(invoice: Invoice) -> str:
    return (
        f"Hello {invoice.customer.name},\n\n"
        f"invoice {invoice.number} for EUR {invoice.amount_due_cents / 100:.2f} is due on "
        f"{invoice.due_on.isoformat()}.\n\nThank you for your business."
    )
