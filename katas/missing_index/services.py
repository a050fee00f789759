from .models import Invoice

WORKLIST_SIZE = 50


def collections_worklist(organization_id: int, *, limit: int = WORKLIST_SIZE) -> list[Invoice]:
    """The organization's open invoices, earliest due date first: what the collections team works through.

    The collections screen runs this on every open and refresh, some 40,000 times a day.
    """
    invoices = Invoice.objects.filter(organization_id=organization_id, status=Invoice.Status.OPEN)
    return list(invoices.order_by("due_on", "id")[:limit])
