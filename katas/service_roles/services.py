from django.db import transaction

from .models import Invoice, Member


class InvoiceNotFoundError(Exception):
    """There is no invoice with this ID that the member may see."""


class InvoiceNotVoidableError(Exception):
    """Only an open invoice can be voided."""


def void_invoice(invoice_id: int, *, member: Member) -> Invoice:
    """Void an open invoice of one of the member's organizations.

    To anyone outside the invoice's organization the invoice does not exist (InvoiceNotFoundError).
    """
    with transaction.atomic():
        visible = Invoice.objects.filter(customer__organization__memberships__member=member)
        try:
            invoice = visible.select_for_update(of=("self",)).get(pk=invoice_id)
        except Invoice.DoesNotExist:
            raise InvoiceNotFoundError(invoice_id) from None
        if invoice.status != Invoice.Status.OPEN:
            raise InvoiceNotVoidableError(
                f"Invoice {invoice.number} is {invoice.status}; only an open one can be voided."
            )
        invoice.status = Invoice.Status.VOID
        invoice.voided_by = member
        invoice.save(update_fields=["status", "voided_by", "updated_at"])
    return invoice
