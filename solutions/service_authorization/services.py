from .models import Invoice, Member


class InvoiceNotFoundError(Exception):
    """There is no invoice with this ID that the member may see."""


def get_invoice(invoice_id: int, *, member: Member) -> Invoice:
    """An invoice, with its customer, for a member of the invoice's organization.

    Every caller (endpoint, job, command) gets this check by calling the service. To anyone else the
    invoice does not exist: the same InvoiceNotFoundError as for an unknown ID, so that the API
    answers 404 either way and never confirms which invoice IDs are in use.
    """
    visible = Invoice.objects.filter(customer__organization__memberships__member=member)
    try:
        return visible.select_related("customer").get(pk=invoice_id)
    except Invoice.DoesNotExist:
        raise InvoiceNotFoundError(invoice_id) from None
