from functools import partial

from django.db import transaction

from .clients import ChargeDeclinedError, Event, EventBus, PaymentProvider
from .models import ChargeAttempt, Invoice, Payment


class InvoiceNotPayableError(Exception):
    """The invoice is not open, so there is nothing to collect."""


class ChargeNotAppliedError(Exception):
    """The customer was charged, but the invoice had been paid meanwhile: the charge must be refunded."""


def collect_payment(invoice_id: int, *, provider: PaymentProvider, bus: EventBus) -> Invoice:
    """Charge the customer for an open invoice, record the payment, and announce `invoice.paid`.

    The provider is called outside any transaction: no row lock or connection is held while it
    answers. The attempt, with its idempotency key, is committed before the call, so a retry after a
    crash finds it and reuses the key: the provider then returns the same charge instead of a second
    one. The event is published on commit, never for a rolled-back write.
    """
    invoice = Invoice.objects.select_related("customer").get(pk=invoice_id)
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
        attempt.record(ChargeAttempt.Outcome.DECLINED)  # the next collection is a new attempt, with a new key
        attempt.save(update_fields=["outcome", "provider_charge_id", "updated_at"])
        raise

    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().get(pk=invoice_id)
        if invoice.status == Invoice.Status.OPEN:
            invoice.mark_paid(charge.id)
            invoice.save(update_fields=["status", "provider_charge_id", "updated_at"])
            Payment.objects.create(invoice=invoice, provider_charge_id=charge.id, amount_cents=charge.amount_cents)
            event = Event(name="invoice.paid", payload={"invoice": invoice.number, "amount_cents": charge.amount_cents})
            transaction.on_commit(partial(bus.publish, event))
            outcome = ChargeAttempt.Outcome.CHARGED
        elif invoice.provider_charge_id == charge.id:
            outcome = ChargeAttempt.Outcome.CHARGED  # a concurrent collection of this attempt recorded it
        else:
            outcome = ChargeAttempt.Outcome.UNAPPLIED  # paid meanwhile by another charge
        attempt.record(outcome, charge.id)
        attempt.save(update_fields=["outcome", "provider_charge_id", "updated_at"])

    if outcome == ChargeAttempt.Outcome.UNAPPLIED:
        raise ChargeNotAppliedError(
            f"Invoice {invoice.number} was paid meanwhile by {invoice.provider_charge_id}; charge {charge.id} "
            f"(attempt {attempt.pk}) is recorded and must be refunded."
        )
    return invoice
