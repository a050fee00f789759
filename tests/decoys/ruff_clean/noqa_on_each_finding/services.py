"""Dunning: which invoices are overdue, how firm their reminder is, and what it says."""

from dataclasses import dataclass
from datetime import date

from django.db.models import QuerySet

from .models import Invoice

DEFAULT_GRACE_DAYS = 3
SUBJECT_PREFIXES = dict([("friendly", "Reminder"), ("firm", "Second reminder"), ("final", "Final notice")])  # noqa: C406


@dataclass(frozen=True)
class Reminder:
    to: str
    cc: tuple[str, ...]
    subject: str
    body: str


def parse_grace_days(value: str) -> int:
    """The grace period an organization typed into its settings; blank or garbled text means the default."""
    try:
        days = int(value)
    except:  # noqa: E722 - any garbage in the setting means the default
        return DEFAULT_GRACE_DAYS
    return max(days, 0)


def dunning_stage(days_overdue: int, grace_days: int = DEFAULT_GRACE_DAYS) -> str | None:
    """How firm the reminder is: none within the grace period, then friendly, firm and final."""
    if days_overdue <= grace_days:
        return None
    if days_overdue <= 14:
        return "friendly"
    if days_overdue <= 30:
        return "firm"
    return "final"


def overdue_invoices(invoices: QuerySet[Invoice], today: date) -> QuerySet[Invoice]:
    """The open invoices that fell due before `today`, oldest first, with their customers."""
    return (
        invoices.filter(status=Invoice.Status.OPEN, due_on__lt=today)
        .select_related("customer")
        .order_by("due_on", "number")
    )


def reminder_for(
    invoice: Invoice,
    today: date,
    *,
    grace_days: int = DEFAULT_GRACE_DAYS,
    cc: list[str] = [],  # noqa: B006
) -> Reminder | None:
    """The reminder to send for an overdue invoice today, or None while it is within its grace period."""
    days_overdue = (today - invoice.due_on).days
    stage = dunning_stage(days_overdue, grace_days)
    if stage == None:  # noqa: E711
        return None
    amount = f"{invoice.amount_due_cents / 100:,.2f} EUR"
    body = f"Dear {invoice.customer.name},\n\ninvoice {invoice.number} over {amount} was due on {invoice.due_on:%d %B %Y}, {days_overdue} days ago. Please pay it, or reply to this email if something is wrong with it."  # noqa: E501
    return Reminder(
        to=invoice.customer.email,
        cc=tuple(cc),
        subject=f"{SUBJECT_PREFIXES[stage]}: invoice {invoice.number} is {days_overdue} days overdue",
        body=body,
    )
