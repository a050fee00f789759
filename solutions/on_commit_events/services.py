from dataclasses import dataclass
from functools import partial

from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import timezone

from .clients import Event, EventBus
from .models import BillingPeriod, Invoice, LedgerEntry


class InvoiceNotDraftError(Exception):
    """Only a draft invoice can be finalized."""


class PeriodClosedError(Exception):
    """The billing period is already closed."""


@dataclass(frozen=True)
class PeriodClose:
    """What closing a billing period did: invoice numbers finalized, and left as drafts."""

    finalized: list[str]
    skipped: list[str]


def finalize_invoice(invoice_id: int, *, bus: EventBus) -> Invoice:
    """Freeze a draft invoice's total, open it for payment, book it, and announce `invoice.finalized`.

    The event is published once the outermost transaction commits: this function's own, or its
    caller's when it runs inside one. If any block around the writes rolls back, it never goes out.
    """
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().get(pk=invoice_id)
        if invoice.status != Invoice.Status.DRAFT:
            raise InvoiceNotDraftError(invoice.number)

        total = invoice.lines.aggregate(total=Sum(F("quantity") * F("unit_price_cents")))["total"] or 0
        invoice.finalize(total_cents=total, at=timezone.now())
        invoice.save(update_fields=["status", "total_cents", "finalized_at", "updated_at"])
        event = Event(name="invoice.finalized", payload={"invoice": invoice.number, "total_cents": total})
        # registered here, run after the commit: a failure of the ledger write below still cancels it
        transaction.on_commit(partial(bus.publish, event))
        LedgerEntry.objects.create(invoice=invoice, kind=LedgerEntry.Kind.RECEIVABLE, amount_cents=total)
    return invoice


def close_billing_period(period_id: int, *, bus: EventBus) -> PeriodClose:
    """Finalize every draft invoice of a billing period, then close the period: all in one transaction.

    An invoice that cannot be booked (its ledger entry conflicts with one already there) stays a
    draft for finance to look into; the other invoices are finalized and the period closes anyway.
    """
    finalized: list[str] = []
    skipped: list[str] = []
    with transaction.atomic():
        period = BillingPeriod.objects.select_for_update().get(pk=period_id)
        if period.status == BillingPeriod.Status.CLOSED:
            raise PeriodClosedError(str(period))

        for invoice in period.invoices.filter(status=Invoice.Status.DRAFT).order_by("number"):
            try:
                # nested in this transaction, finalize_invoice's atomic() is a savepoint: a failure
                # rolls back that one invoice, and the close goes on with the others
                finalize_invoice(invoice.pk, bus=bus)
            except IntegrityError:
                skipped.append(invoice.number)
            else:
                finalized.append(invoice.number)

        period.close(at=timezone.now())
        period.save(update_fields=["status", "closed_at", "updated_at"])
    return PeriodClose(finalized=finalized, skipped=skipped)
