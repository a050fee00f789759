from dataclasses import dataclass
from functools import partial

from django.db import transaction

from .clients import EmailClient
from .models import Invoice, Payment, ProcessedWebhookEvent


@dataclass(frozen=True)
class PaymentSucceeded:
    """The payment provider's `payment.succeeded` event, as our webhook endpoint parsed it."""

    event_id: str
    invoice_number: str
    payment_id: str
    amount_cents: int


def handle_payment_succeeded(event: PaymentSucceeded, *, emails: EmailClient) -> None:
    """Record the payment, settle the invoice, and email the customer a receipt.

    A redelivered event carries the same event ID: its record, written in the same transaction as
    the work, makes the redelivery change nothing.
    """
    with transaction.atomic():
        _, first_delivery = ProcessedWebhookEvent.objects.get_or_create(event_id=event.event_id)
        if not first_delivery:
            return
        # of=("self",): lock the invoice row only, not the customer row that select_related joins
        invoice = (
            Invoice.objects.select_for_update(of=("self",)).select_related("customer").get(number=event.invoice_number)
        )
        Payment.objects.create(
            invoice=invoice,
            provider_payment_id=event.payment_id,
            amount_cents=event.amount_cents,
        )
        invoice.record_payment(event.amount_cents)
        invoice.save(update_fields=["amount_paid_cents", "status", "updated_at"])
        # sent once the transaction has committed, never for a rolled-back delivery
        transaction.on_commit(
            partial(
                emails.send,
                to=invoice.customer.email,
                subject=f"Receipt for invoice {invoice.number}",
                body=f"We received your payment of {event.amount_cents / 100:.2f}. Thank you.",
            )
        )
