from base64 import urlsafe_b64decode, urlsafe_b64encode
from dataclasses import dataclass
from datetime import datetime

from django.db.models import QuerySet

from .models import Invoice


@dataclass(frozen=True)
class StatusChoice:
    value: str
    label: str


@dataclass(frozen=True)
class InvoicePage:
    invoices: list[Invoice]
    next_cursor: str | None


def organization_invoices(organization_id: int) -> QuerySet[Invoice]:
    """An organization's invoices, newest first; the id orders invoices created at the same instant."""
    return Invoice.objects.filter(organization_id=organization_id).order_by("-created_at", "-id")


def organization_invoice_page(organization_id: int, *, cursor: str | None, page_size: int) -> InvoicePage:
    """One page of the organization's invoices, newest first, after the cursor (a keyset: no OFFSET)."""
    invoices = organization_invoices(organization_id)
    if cursor:
        last_created_at = datetime.fromisoformat(urlsafe_b64decode(cursor).decode())
        invoices = invoices.filter(created_at__lt=last_created_at)
    rows = list(invoices[: page_size + 1])
    page = rows[:page_size]
    next_cursor = None
    if len(rows) > page_size:
        next_cursor = urlsafe_b64encode(page[-1].created_at.isoformat().encode()).decode()
    return InvoicePage(invoices=page, next_cursor=next_cursor)


def all_invoices() -> QuerySet[Invoice]:
    """Every organization's invoices, by number, for the back-office table."""
    return Invoice.objects.select_related("organization").order_by("number")


def invoice_statuses() -> list[StatusChoice]:
    """The statuses an invoice can have, for the portal's filter menu."""
    return [StatusChoice(value=value, label=label) for value, label in Invoice.Status.choices]
