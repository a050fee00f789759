from django.db.models import QuerySet

from .models import Invoice

PAGE_SIZE = 100  # the invoice list shows the newest hundred; older ones are in the monthly statements


def recent_invoices(organization_id: int) -> QuerySet[Invoice]:
    """The organization's newest invoices that are not drafts, newest first, at most PAGE_SIZE of them.

    With what the API's InvoiceOut reads of each one: its customer (joined) and its lines (one more
    query for all of them), so that serializing the list runs no query per invoice.
    """
    return (
        Invoice.objects.filter(customer__organization_id=organization_id)
        .exclude(status=Invoice.Status.DRAFT)
        .select_related("customer")
        .prefetch_related("lines")
        .order_by("-issued_on", "-number")[:PAGE_SIZE]
    )
