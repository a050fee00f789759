from dataclasses import dataclass

from django.db.models import QuerySet

from .models import Invoice


@dataclass(frozen=True)
class StatusChoice:
    value: str
    label: str


def organization_invoices(organization_id: int) -> QuerySet[Invoice]:
    """An organization's invoices, newest first; the id orders invoices created at the same instant."""
    return Invoice.objects.filter(organization_id=organization_id).order_by("-created_at", "-id")


def all_invoices() -> QuerySet[Invoice]:
    """Every organization's invoices, by number, for the back-office table."""
    return Invoice.objects.select_related("organization").order_by("number")


def invoice_statuses() -> list[StatusChoice]:
    """The statuses an invoice can have, for the portal's filter menu."""
    return [StatusChoice(value=value, label=label) for value, label in Invoice.Status.choices]
