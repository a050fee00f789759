import secrets
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count, QuerySet, Sum

from .models import ApiKey, Invoice


@dataclass(frozen=True)
class Actor:
    """Who is calling: the organization an API key belongs to, and what the key may do."""

    organization_id: int
    can_write: bool


@dataclass(frozen=True)
class Revenue:
    year: int
    month: int
    currency: str
    paid_invoices: int
    total_cents: int


class InvoiceNotFoundError(Exception):
    """No invoice with this id in the caller's organization."""


class InvoiceAlreadyPaidError(Exception):
    """A paid invoice cannot be voided: it needs a credit note."""


def actor_for_api_key(key: str) -> Actor | None:
    api_key = ApiKey.objects.filter(key=key).first()
    if api_key is None:
        return None
    return Actor(organization_id=api_key.organization_id, can_write=api_key.can_write)


def _invoices_of(actor: Actor) -> QuerySet[Invoice]:
    """Where every invoice query starts: an API key never sees another organization's invoices."""
    return Invoice.objects.filter(organization_id=actor.organization_id)


def _require_write_access(actor: Actor) -> None:
    if not actor.can_write:
        raise PermissionDenied("This API key is read-only; changing invoices needs a key with write access.")


def get_invoice(actor: Actor, invoice_id: int) -> Invoice:
    try:
        return _invoices_of(actor).get(pk=invoice_id)
    except Invoice.DoesNotExist:
        raise InvoiceNotFoundError(f"Invoice {invoice_id} does not exist.") from None


def create_invoice(actor: Actor, *, customer_email: str, total_cents: int, currency: str) -> Invoice:
    _require_write_access(actor)
    return Invoice.objects.create(
        organization_id=actor.organization_id,
        number=f"INV-{secrets.token_hex(5).upper()}",
        customer_email=customer_email,
        total_cents=total_cents,
        currency=currency,
    )


def void_invoice(actor: Actor, invoice_id: int) -> Invoice:
    _require_write_access(actor)
    with transaction.atomic():  # the row lock keeps a payment from landing between the check and the write
        try:
            invoice = _invoices_of(actor).select_for_update().get(pk=invoice_id)
        except Invoice.DoesNotExist:
            raise InvoiceNotFoundError(f"Invoice {invoice_id} does not exist.") from None
        if invoice.status == Invoice.Status.PAID:
            raise InvoiceAlreadyPaidError(f"Invoice {invoice.number} is paid; issue a credit note instead.")
        invoice.status = Invoice.Status.VOID
        invoice.save(update_fields=["status", "updated_at"])
    return invoice


def monthly_revenue(actor: Actor, *, year: int, month: int, currency: str) -> Revenue:
    """What the organization was paid in one currency, in one calendar month (UTC)."""
    totals = (
        _invoices_of(actor)
        .filter(status=Invoice.Status.PAID, currency=currency, paid_at__year=year, paid_at__month=month)
        .aggregate(paid_invoices=Count("id"), total_cents=Sum("total_cents"))
    )
    return Revenue(
        year=year,
        month=month,
        currency=currency,
        paid_invoices=totals["paid_invoices"],
        total_cents=totals["total_cents"] or 0,
    )
