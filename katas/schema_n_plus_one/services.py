from dataclasses import dataclass
from datetime import date

from django.db.models import Q, QuerySet

from .models import Invoice


@dataclass(frozen=True)
class Position:
    """A place in the list's order, newest first: the issue date and number of the last invoice sent."""

    issued_on: date
    number: str


@dataclass(frozen=True)
class InvoicePage:
    invoices: list[Invoice]
    next: Position | None  # None on the last page


def issued_invoices(organization_id: int) -> QuerySet[Invoice]:
    """The organization's issued invoices (not drafts), newest first: by issue date, then number."""
    return (
        Invoice.objects.filter(customer__organization_id=organization_id, issued_on__isnull=False)
        .exclude(status=Invoice.Status.DRAFT)
        .order_by("-issued_on", "-number")
    )


def invoice_page(invoices: QuerySet[Invoice], *, after: Position | None, size: int) -> InvoicePage:
    """The `size` invoices that follow `after` in `invoices`, ordered as issued_invoices() orders them.

    A keyset page: numbers are unique, so (issued_on, number) is too, and a page starts where the
    last one ended however many invoices share an issue date, without an OFFSET to count through.
    """
    if after is not None:
        invoices = invoices.filter(
            Q(issued_on__lt=after.issued_on) | Q(issued_on=after.issued_on, number__lt=after.number)
        )
    rows = list(invoices[: size + 1])  # one more than a page: is there a next one?
    page = rows[:size]
    last = page[-1] if len(rows) > size else None
    if last is None or last.issued_on is None:
        return InvoicePage(page, None)
    return InvoicePage(page, Position(last.issued_on, last.number))
