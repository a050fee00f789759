from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q, QuerySet

from .models import Invoice


@dataclass(frozen=True)
class StatusChoice:
    value: str
    label: str


@dataclass(frozen=True)
class Position:
    """A place in the portal's order, newest first: the created_at and id of the last invoice sent."""

    created_at: datetime
    id: int


@dataclass(frozen=True)
class InvoicePage:
    invoices: list[Invoice]
    next: Position | None  # None on the last page


def organization_invoices(organization_id: int) -> QuerySet[Invoice]:
    """An organization's invoices, newest first; the id orders invoices created at the same instant."""
    return Invoice.objects.filter(organization_id=organization_id).order_by("-created_at", "-id")


def organization_invoice_page(organization_id: int, *, after: Position | None, size: int) -> InvoicePage:
    """The `size` invoices that come after `after` in the portal's order: a keyset page, with no OFFSET.

    (created_at, id) is unique, so "after" means the same rows however many invoices share one
    created_at, and invoices created meanwhile sort before the position, where they move nothing.
    The index (organization, -created_at, -id) finds the page without reading the rows before it:
    the bound `created_at <= c`, redundant for the result, is what lets the database start the index
    scan at the position (an Index Cond); the OR alone is only checked row by row (a Filter), after
    reading every newer invoice of the organization.
    """
    invoices = organization_invoices(organization_id)
    if after is not None:
        invoices = invoices.filter(created_at__lte=after.created_at).filter(
            Q(created_at__lt=after.created_at) | Q(created_at=after.created_at, id__lt=after.id)
        )
    rows = list(invoices[: size + 1])  # one more than a page: is there a next one?
    page = rows[:size]
    last = page[-1] if len(rows) > size else None
    return InvoicePage(page, Position(last.created_at, last.pk) if last else None)


def all_invoices() -> QuerySet[Invoice]:
    """Every organization's invoices, by number, for the back-office table."""
    return Invoice.objects.select_related("organization").order_by("number")


def invoice_statuses() -> list[StatusChoice]:
    """The statuses an invoice can have, for the portal's filter menu."""
    return [StatusChoice(value=value, label=label) for value, label in Invoice.Status.choices]
