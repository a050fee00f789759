"""Invoice arithmetic for the billing run: VAT, invoice totals, overdue invoices and open balances."""

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import Sum

from .models import Invoice


@dataclass(frozen=True)
class InvoiceTotals:
    net_cents: int
    tax_cents: int
    gross_cents: int


def parse_tax_rates(
    payload: dict[str, Any],  # Any: the tax provider's decoded JSON, untyped; narrowed to str and Decimal here
) -> dict[str, Decimal]:
    """The VAT rate per country, in percent, from the tax provider's rate table."""
    return {str(entry["country"]): Decimal(str(entry["rate"])) for entry in payload["rates"]}


def tax_cents(
    net_cents: Any,  # Any: cents from the ORM or the provider
    rate_percent: Any,  # Any: a Decimal, or a string from the provider
) -> Any:  # Any: whatever the arithmetic gives
    """The VAT on a net amount, rounded half up to the cent."""
    return int((Decimal(net_cents) * rate_percent / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def invoice_totals(
    invoice: Any,  # Any: an ORM object
    rate_percent: Any,  # Any: a Decimal, or a string from the provider
) -> InvoiceTotals:
    """Net, VAT and gross amounts of an invoice, from its lines."""
    net_cents = sum(line.quantity * line.unit_price_cents for line in invoice.lines.all())
    vat_cents = tax_cents(net_cents, rate_percent)
    return InvoiceTotals(net_cents=net_cents, tax_cents=vat_cents, gross_cents=net_cents + vat_cents)


def overdue(
    invoices: Any,  # Any: an ORM queryset
    today: date,
) -> Any:  # Any: an ORM queryset
    """The open invoices that fell due before `today`, oldest first."""
    return invoices.filter(status=Invoice.Status.OPEN, due_on__lt=today).order_by("due_on", "number")


def open_balance_cents(invoices: Any) -> int:  # Any: an ORM queryset, which django-stubs types loosely
    """What the invoices still owe: the sum of the amounts due of the open ones."""
    totals = invoices.filter(status=Invoice.Status.OPEN).aggregate(total=Sum("amount_due_cents"))
    total: int | None = totals["total"]  # aggregate() returns an untyped dict; the sum is NULL without rows
    return total or 0
