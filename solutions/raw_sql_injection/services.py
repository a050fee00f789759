from dataclasses import dataclass
from datetime import date

from django.db.models import Q

from .models import Invoice

SEARCH_LIMIT = 50  # the search box shows the first page only; refine the term to see older invoices


@dataclass(frozen=True)
class InvoiceHit:
    number: str
    customer_name: str
    issued_on: date
    total_cents: int


def search_invoices(organization_id: int, term: str) -> list[InvoiceHit]:
    """The organization's invoices whose number or customer name contains `term`, ignoring case.

    Newest first (by issue date, then number), at most SEARCH_LIMIT of them. The ORM sends `term` to
    the database as a parameter, never as SQL text, so quotes and SQL in it are only characters to
    look for; `icontains` also escapes LIKE's wildcards, `%` and `_`.
    """
    if "\x00" in term:
        # no stored number or name holds a NUL character (PostgreSQL's text refuses one), so none contains
        # the term; and the driver would refuse it even as a parameter
        return []
    invoices = (
        Invoice.objects.filter(customer__organization_id=organization_id)
        .filter(Q(number__icontains=term) | Q(customer__name__icontains=term))
        .select_related("customer")
        .order_by("-issued_on", "-number")[:SEARCH_LIMIT]
    )
    return [
        InvoiceHit(
            number=invoice.number,
            customer_name=invoice.customer.name,
            issued_on=invoice.issued_on,
            total_cents=invoice.total_cents,
        )
        for invoice in invoices
    ]
