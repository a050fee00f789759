from datetime import datetime
from zoneinfo import ZoneInfo

from django.http import HttpRequest
from django.urls import path
from ninja import Field, NinjaAPI, Schema
from ninja.pagination import LimitOffsetPagination, paginate

from dojo import api_errors
from dojo.api_errors import DatabaseId

from .services import DueInvoice, invoices_due_today

api = NinjaAPI(urls_namespace="utc_datetimes")
api_errors.install(api)


class BoundedLimitOffsetPagination(LimitOffsetPagination):
    """Ninja's limit/offset, with an offset the database can take (Ninja sets no upper bound: a 500)."""

    class Input(Schema):
        limit: int = Field(100, ge=1)
        offset: int = Field(0, ge=0, le=api_errors.BIGINT_MAX)


class DueInvoiceOut(Schema):
    number: str
    customer_name: str
    amount_due_cents: int
    due_at: datetime = Field(description="When the invoice falls due, in the user's time zone, with its UTC offset")

    @classmethod
    def for_user(cls, invoice: DueInvoice, user_time_zone: ZoneInfo) -> "DueInvoiceOut":
        """Presentation: the service's UTC due time, shown on the user's own clock."""
        return cls(
            number=invoice.number,
            customer_name=invoice.customer_name,
            amount_due_cents=invoice.amount_due_cents,
            due_at=invoice.due_at.astimezone(user_time_zone),
        )


@api.get("/api/v1/organizations/{organization_id}/invoices/due-today", response=list[DueInvoiceOut])
@paginate(BoundedLimitOffsetPagination, max_limit=100)  # a table on the finance dashboard: limit/offset (API-4)
def list_invoices_due_today(
    request: HttpRequest, organization_id: DatabaseId, time_zone: ZoneInfo
) -> list[DueInvoiceOut]:
    """The invoices falling due on the user's today; the browser sends the user's IANA time zone."""
    return [DueInvoiceOut.for_user(invoice, time_zone) for invoice in invoices_due_today(organization_id, time_zone)]


urlpatterns = [path("", api_errors.urls(api))]
