from collections.abc import Sequence
from dataclasses import dataclass

from .models import Invoice


@dataclass(frozen=True)
class OpenInvoice:
    number: str
    amount_due_cents: int


@dataclass(frozen=True)
class BankPayment:
    """A credit transfer on the organization's bank statement."""

    payment_id: str
    reference: str  # the remittance text the customer typed; usually an invoice number
    amount_cents: int


@dataclass(frozen=True)
class Match:
    invoice_number: str
    payment_id: str


@dataclass(frozen=True)
class Reconciliation:
    matches: tuple[Match, ...]
    unmatched_payments: tuple[BankPayment, ...]  # for finance to look at: unknown, wrong amount or paid twice
    open_invoices: tuple[OpenInvoice, ...]  # still unpaid after this statement


def normalized_reference(reference: str) -> str:
    """Customers type the reference by hand: " inv-00042" names INV-00042."""
    return reference.strip().upper()


def match_payments(invoices: Sequence[OpenInvoice], payments: Sequence[BankPayment]) -> Reconciliation:
    """Match each payment, in statement order, to the open invoice its reference names.

    A payment matches when it pays exactly the amount due. Invoice numbers are unique, and an invoice is
    paid once: a later payment naming it again is left unmatched, as a duplicate to refund.

    O(n + m) time for n invoices and m payments: one pass indexes the invoices by number, one pass
    looks each payment up. The index costs O(n) memory; comparing every payment with every invoice
    would need none, but takes O(n · m) time: hours for our largest statements.
    """
    by_number = {invoice.number: invoice for invoice in invoices}
    matches: list[Match] = []
    unmatched: list[BankPayment] = []
    paid: set[str] = set()
    for payment in payments:
        invoice = by_number.get(normalized_reference(payment.reference))
        if invoice is not None and invoice.number not in paid and invoice.amount_due_cents == payment.amount_cents:
            matches.append(Match(invoice_number=invoice.number, payment_id=payment.payment_id))
            paid.add(invoice.number)
        else:
            unmatched.append(payment)
    return Reconciliation(
        matches=tuple(matches),
        unmatched_payments=tuple(unmatched),
        open_invoices=tuple(invoice for invoice in invoices if invoice.number not in paid),
    )


def reconcile_statement(organization_id: int, payments: Sequence[BankPayment]) -> Reconciliation:
    """Match a bank statement against the organization's open invoices, loaded in one query."""
    rows = (
        Invoice.objects.filter(organization_id=organization_id, status=Invoice.Status.OPEN)
        .order_by("number")
        .values_list("number", "amount_due_cents")
    )
    invoices = [OpenInvoice(number=number, amount_due_cents=amount) for number, amount in rows]
    return match_payments(invoices, payments)
