from functools import partial

from django.db import transaction

from .clients import Event, EventBus, PaymentProvider
from .models import Invoice, Payment


class InvoiceNotPayableError(Exception):
    """The invoice is not open, so there is nothing to collect."""


def collect_payment(invoice_id: int, *, provider: PaymentProvider, bus: EventBus) -> Invoice:
    """Charge the customer for an open invoice, record the payment, and announce `invoice.paid`."""
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().select_related("customer").get(pk=invoice_id)
        if invoice.status != Invoice.Status.OPEN:
            raise InvoiceNotPayableError(invoice.number)

        charge = provider.charge(
            customer_ref=invoice.customer.provider_customer_id,
            amount_cents=invoice.amount_due_cents,
            currency=invoice.currency,
            idempotency_key=f"invoice-{invoice.pk}",
        )
        invoice.mark_paid(charge.id)
        invoice.save(update_fields=["status", "provider_charge_id", "updated_at"])
        event = Event(name="invoice.paid", payload={"invoice": invoice.number, "amount_cents": charge.amount_cents})
        transaction.on_commit(partial(bus.publish, event))
        Payment.objects.create(invoice=invoice, provider_charge_id=charge.id, amount_cents=charge.amount_cents)
    return invoice
