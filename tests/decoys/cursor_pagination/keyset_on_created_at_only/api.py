from datetime import datetime
from urllib.parse import urlencode

from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import path
from ninja import Field, NinjaAPI, Query, Router, Schema
from ninja.pagination import LimitOffsetPagination, paginate

from . import services
from .models import Invoice

# Authentication and authorization are left out of this kata to keep it short.


class InvoiceOut(Schema):
    id: int
    number: str
    status: str
    total_cents: int
    currency: str
    created_at: datetime


class AdminInvoiceOut(InvoiceOut):
    organization: str

    @staticmethod
    def resolve_organization(invoice: Invoice) -> str:
        return invoice.organization.name


class InvoicePageOut(Schema):
    results: list[InvoiceOut]
    next: str | None


class PageIn(Schema):
    cursor: str | None = None
    page_size: int = Field(20, ge=1, le=50)


class StatusOut(Schema):
    value: str
    label: str


router = Router(tags=["invoices"])


@router.get("/organizations/{organization_id}/invoices", response=InvoicePageOut)
def list_invoices(request: HttpRequest, organization_id: int, page: Query[PageIn]) -> InvoicePageOut:
    """The customer portal's invoice list: the organization's invoices, newest first."""
    found = services.organization_invoice_page(organization_id, cursor=page.cursor, page_size=page.page_size)
    next_url = None
    if found.next_cursor:
        next_url = f"{request.path}?{urlencode({'cursor': found.next_cursor, 'page_size': page.page_size})}"
    return InvoicePageOut(results=[InvoiceOut.from_orm(i) for i in found.invoices], next=next_url)


@router.get("/admin/invoices", response=list[AdminInvoiceOut])
# Limit/offset for the back-office table: it jumps to any page and shows a total (one COUNT query).
@paginate(LimitOffsetPagination, max_limit=50)
def list_all_invoices(request: HttpRequest) -> QuerySet[Invoice]:
    """The back-office table: every organization's invoices, by number."""
    return services.all_invoices()


@router.get("/invoice-statuses", response=list[StatusOut])
def list_invoice_statuses(request: HttpRequest) -> list[services.StatusChoice]:
    """Not paginated on purpose: a small static enumeration is API-4's explicit opt-out."""
    return services.invoice_statuses()


api = NinjaAPI(urls_namespace="cursor_pagination")
api.add_router("/api/v1/", router)

urlpatterns = [path("", api.urls)]
