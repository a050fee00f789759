from .models import Invoice, Member, Membership


class InvoiceNotFoundError(Exception):
    """There is no invoice with this ID."""


class InvoiceAccessDeniedError(Exception):
    """The member does not belong to the invoice's organization."""


def get_invoice(invoice_id: int, *, member: Member) -> Invoice:
    """An invoice, with its customer, for a member of the invoice's organization."""
    try:
        invoice = Invoice.objects.select_related("customer").get(pk=invoice_id)
    except Invoice.DoesNotExist:
        raise InvoiceNotFoundError(invoice_id) from None
    if not Membership.objects.filter(member=member, organization_id=invoice.customer.organization_id).exists():
        raise InvoiceAccessDeniedError(invoice_id)
    return invoice
