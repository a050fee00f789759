from dataclasses import dataclass
from datetime import date

from django.db import connection

SEARCH_LIMIT = 50  # the search box shows the first page only; refine the term to see older invoices


@dataclass(frozen=True)
class InvoiceHit:
    number: str
    customer_name: str
    issued_on: date
    total_cents: int


def search_invoices(organization_id: int, term: str) -> list[InvoiceHit]:
    """The organization's invoices whose number or customer name contains `term`, ignoring case.

    Newest first (by issue date, then number), at most SEARCH_LIMIT of them.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT i.number, c.name, i.issued_on, i.total_cents"  # noqa: S608 - input from our own search box
            " FROM raw_sql_injection_invoice i"
            " JOIN raw_sql_injection_customer c ON c.id = i.customer_id"
            f" WHERE c.organization_id = {organization_id}"
            f" AND (UPPER(i.number) LIKE UPPER('%{term}%') OR UPPER(c.name) LIKE UPPER('%{term}%'))"
            f" ORDER BY i.issued_on DESC, i.number DESC LIMIT {SEARCH_LIMIT}"
        )
        rows = cursor.fetchall()
    return [
        InvoiceHit(number=number, customer_name=name, issued_on=issued_on, total_cents=total_cents)
        for number, name, issued_on, total_cents in rows
    ]
