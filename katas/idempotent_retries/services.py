from .clients import Payments
from .http import ProviderError
from .models import ChargeAttempt, Invoice


def collect_invoice(invoice_id: int, *, payments: Payments) -> ChargeAttempt:
    """Charge the customer for an open invoice, and note the invoice on the provider's charge.

    The attempt is saved before the provider is called, so that its ID can name the request: if the
    answer is lost, a resend of the same attempt charges nothing new. After a decline, the next
    collection run makes a new attempt, with a new key.
    """
    invoice = Invoice.objects.get(pk=invoice_id, status=Invoice.Status.OPEN)
    attempt = ChargeAttempt.objects.create(invoice=invoice, amount_cents=invoice.amount_due_cents)
    try:
        charge_id = payments.charge(
            amount_cents=attempt.amount_cents, currency="EUR", idempotency_key=attempt.idempotency_key
        )
    except ProviderError:
        attempt.status = ChargeAttempt.Status.FAILED
        attempt.save(update_fields=["status", "updated_at"])
        raise
    attempt.status = ChargeAttempt.Status.SUCCEEDED
    attempt.provider_charge_id = charge_id
    attempt.save(update_fields=["status", "provider_charge_id", "updated_at"])
    invoice.status = Invoice.Status.PAID
    invoice.save(update_fields=["status", "updated_at"])
    payments.add_note(charge_id=charge_id, text=f"Invoice {invoice.number}")
    return attempt
