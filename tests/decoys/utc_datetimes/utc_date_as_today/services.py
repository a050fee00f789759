from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.utils import timezone

from .models import Invoice

PAYMENT_TERMS = timedelta(days=30)


@dataclass(frozen=True)
class DueInvoice:
    number: str
    customer_name: str
    amount_due_cents: int
    due_at: datetime


def issue_invoice(organization_id: int, *, number: str, customer_name: str, amount_due_cents: int) -> Invoice:
    """Issue an invoice now; it falls due when the payment terms have run out."""
    issued_at = timezone.now()  # aware, in UTC, whatever the server's clock is set to
    return Invoice.objects.create(
        organization_id=organization_id,
        number=number,
        customer_name=customer_name,
        amount_due_cents=amount_due_cents,
        issued_at=issued_at,
        due_at=issued_at + PAYMENT_TERMS,
    )


def invoices_due_today(organization_id: int, user_time_zone: ZoneInfo) -> list[DueInvoice]:
    """The organization's open invoices that fall due today, for a user in `user_time_zone`.

    "Today" is the user's calendar day: from their midnight to their next midnight, which are 23 or
    25 hours apart on the days their clocks change. Both bounds are aware datetimes in the user's
    zone; the database compares them as UTC. Due times are returned in UTC: the API converts them.
    """
    today = timezone.now().date()
    start = datetime.combine(today, time.min, tzinfo=user_time_zone)
    end = datetime.combine(today + timedelta(days=1), time.min, tzinfo=user_time_zone)
    invoices = Invoice.objects.filter(
        organization_id=organization_id,
        status=Invoice.Status.OPEN,
        due_at__gte=start,
        due_at__lt=end,
    ).order_by("due_at", "number")
    return [
        DueInvoice(
            number=invoice.number,
            customer_name=invoice.customer_name,
            amount_due_cents=invoice.amount_due_cents,
            due_at=invoice.due_at,
        )
        for invoice in invoices
    ]
