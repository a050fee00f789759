from django.db import transaction

from .clients import ChargeDeclinedError, Event, EventBus, PaymentProvider
from .models import ChargeAttempt, Invoice, Payment


class InvoiceNotPayableError(Exception):
    """The invoice is not open, so there is nothing to collect."""


class ChargeNotAppliedError(Exception):
    """The customer was charged, but the invoice had been paid meanwhile: the charge must be refunded."""


def collect_payment(invoice_id: int, *, provider: PaymentProvider, bus: EventBus) -> Invoice:
    """Charge the customer for an open invoice, record the payment, and announce `invoice.paid`."""
    with transaction.atomic():
        # of=("self",): lock the invoice row only, not the customer row that select_related joins
        invoice = Invoice.objects.select_for_update(of=("self",)).select_related("customer").get(pk=invoice_id)
        if invoice.status != Invoice.Status.OPEN:
            raise InvoiceNotPayableError(invoice.number)

        # the attempt in flight, if a collection of this invoice was interrupted, or a new one
        attempt, _ = ChargeAttempt.objects.get_or_create(invoice=invoice, outcome=ChargeAttempt.Outcome.PENDING)
        try:
            charge = provider.charge(
                customer_ref=invoice.customer.provider_customer_id,
                amount_cents=invoice.amount_due_cents,
                currency=invoice.currency,
                idempotency_key=attempt.idempotency_key,
            )
        except ChargeDeclinedError:
            attempt.record(ChargeAttempt.Outcome.DECLINED)
            attempt.save(update_fields=["outcome", "provider_charge_id", "updated_at"])
            raise
        invoice.mark_paid(charge.id)
        invoice.save(update_fields=["status", "provider_charge_id", "updated_at"])
        bus.publish(
            Event(name="invoice.paid", payload={"invoice": invoice.number, "amount_cents": charge.amount_cents})
        )
        Payment.objects.create(invoice=invoice, provider_charge_id=charge.id, amount_cents=charge.amount_cents)
        attempt.record(ChargeAttempt.Outcome.CHARGED, charge.id)
        attempt.save(update_fields=["outcome", "provider_charge_id", "updated_at"])
    return invoice
