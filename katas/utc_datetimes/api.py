from datetime import datetime
from zoneinfo import ZoneInfo

from django.http import HttpRequest
from django.urls import path
from ninja import Field, NinjaAPI, Schema
from ninja.pagination import LimitOffsetPagination, paginate

from .services import DueInvoice, invoices_due_today

api = NinjaAPI(urls_namespace="utc_datetimes")


class DueInvoiceOut(Schema):
    number: str
    customer_name: str
    amount_due_cents: int
    due_at: datetime = Field(description="When the invoice falls due, in the user's time zone, with its UTC offset")


@api.get("/api/v1/organizations/{organization_id}/invoices/due-today", response=list[DueInvoiceOut])
@paginate(LimitOffsetPagination)  # a table on the finance dashboard: limit/offset (API-4)
def list_invoices_due_today(request: HttpRequest, organization_id: int, time_zone: ZoneInfo) -> list[DueInvoice]:
    """The invoices falling due on the user's today; the browser sends the user's IANA time zone."""
    return invoices_due_today(organization_id, time_zone)


urlpatterns = [path("", api.urls)]
