from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
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
    issued_at = datetime.now()  # noqa: DTZ005 - the servers' clocks are set to UTC
    return Invoice.objects.create(
        organization_id=organization_id,
        number=number,
        customer_name=customer_name,
        amount_due_cents=amount_due_cents,
        issued_at=issued_at,
        due_at=issued_at + PAYMENT_TERMS,
    )


def invoices_due_today(organization_id: int, user_time_zone: ZoneInfo) -> list[DueInvoice]:
    """The organization's open invoices that fall due today, for a user in `user_time_zone`."""
    today = date.today()  # noqa: DTZ011 - the servers' clocks are set to UTC
    start = datetime.combine(today, time.min)
    end = start + timedelta(days=1)
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
            due_at=timezone.localtime(invoice.due_at, user_time_zone),
        )
        for invoice in invoices
    ]
