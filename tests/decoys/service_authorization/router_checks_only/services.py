from .models import Invoice


class InvoiceNotFoundError(Exception):
    """There is no invoice with this ID."""


def get_invoice(invoice_id: int) -> Invoice:
    """An invoice, with its customer."""
    try:
        return Invoice.objects.select_related("customer").get(pk=invoice_id)
    except Invoice.DoesNotExist:
        raise InvoiceNotFoundError(invoice_id) from None
