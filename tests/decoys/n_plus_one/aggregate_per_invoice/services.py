from dataclasses import dataclass
from datetime import date

from django.db.models import F, Sum

from .models import Invoice


@dataclass(frozen=True)
class StatementLine:
    invoice_number: str
    customer_name: str
    issued_on: date
    line_count: int
    total_cents: int


def monthly_statement(organization_id: int, year: int, month: int) -> list[StatementLine]:
    """Every invoice an organization issued in a month, with its customer, line count and total."""
    invoices = (
        Invoice.objects.filter(
            customer__organization_id=organization_id,
            issued_on__year=year,
            issued_on__month=month,
        )
        .exclude(status=Invoice.Status.DRAFT)
        .order_by("issued_on", "number")
        .select_related("customer")
        .prefetch_related("lines")
    )
    return [
        StatementLine(
            invoice_number=invoice.number,
            customer_name=invoice.customer.name,
            issued_on=invoice.issued_on,
            line_count=invoice.lines.count(),
            total_cents=invoice.lines.aggregate(total=Sum(F("quantity") * F("unit_price_cents")))["total"] or 0,
        )
        for invoice in invoices
        if invoice.issued_on is not None
    ]
