from urllib.parse import quote

from .clients import SENDER, EmailProviderError, NoAnswerError, email_provider_http
from .models import Invoice


def send_invoice_email(invoice_number: str) -> Invoice:
    """Email the customer their invoice, unless the email provider has suppressed their address.

    The provider suppresses an address after a hard bounce or a spam complaint. Sending to it anyway
    hurts our sender reputation, so the invoice is marked instead, for the account manager to follow up.
    """
    invoice = Invoice.objects.select_related("customer").get(number=invoice_number)
    address = invoice.customer.email
    with email_provider_http() as http:
        try:
            suppression = http.get(f"/v1/suppressions/{quote(address, safe='@')}")
        except NoAnswerError as error:  # no answer at all (a timeout, a refused connection)
            raise EmailProviderError(f"suppression lookup failed: {type(error).__name__}") from error
        if suppression.status_code == 200:
            invoice.mark_email_suppressed()
            invoice.save(update_fields=["email_status", "updated_at"])
            return invoice
        if suppression.status_code != 404:
            raise EmailProviderError(f"suppression lookup answered {suppression.status_code}")

        try:
            response = http.post(
                "/v1/emails",
                json={
                    "from": SENDER,
                    "to": [address],
                    "subject": f"Invoice {invoice.number}",
                    "text": invoice_text(invoice),
                },
                # the same invoice is never emailed twice, even if this request is retried
                headers={"Idempotency-Key": f"invoice-email-{invoice.number}"},
            )
        except NoAnswerError as error:
            raise EmailProviderError(f"sending failed: {type(error).__name__}") from error
    if response.is_error:
        raise EmailProviderError(f"sending answered {response.status_code}")

    invoice.mark_emailed(str(response.json()["id"]))
    invoice.save(update_fields=["email_status", "email_message_id", "updated_at"])
    return invoice


def invoice_text(invoice: Invoice) -> str:
    return (
        f"Hello {invoice.customer.name},\n\n"
        f"invoice {invoice.number} for EUR {invoice.amount_due_cents / 100:.2f} is due on "
        f"{invoice.due_on.isoformat()}.\n\nThank you for your business."
    )
