from base64 import urlsafe_b64decode, urlsafe_b64encode
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import path
from ninja import NinjaAPI, Router, Schema
from ninja.pagination import LimitOffsetPagination, PaginationBase, paginate

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


class StatusOut(Schema):
    value: str
    label: str


class OpaqueCursorPagination(PaginationBase):
    """Pages behind an opaque cursor: clients cannot build or tamper with page links."""

    items_attribute = "results"

    class Input(Schema):
        cursor: str | None = None
        page_size: int = 20

    class Output(Schema):
        results: list[Any]
        next: str | None

    def paginate_queryset(self, queryset: QuerySet[Any], pagination: Any, request: HttpRequest, **params: Any) -> Any:
        page_size = min(max(pagination.page_size, 1), 50)
        start = int(urlsafe_b64decode(pagination.cursor).decode()) if pagination.cursor else 0
        rows = list(queryset[start : start + page_size + 1])
        next_url = None
        if len(rows) > page_size:
            cursor = urlsafe_b64encode(str(start + page_size).encode()).decode()
            next_url = f"{request.path}?{urlencode({'cursor': cursor, 'page_size': page_size})}"
        return {"results": rows[:page_size], "next": next_url}


router = Router(tags=["invoices"])


@router.get("/organizations/{organization_id}/invoices", response=list[InvoiceOut])
@paginate(OpaqueCursorPagination)
def list_invoices(request: HttpRequest, organization_id: int) -> QuerySet[Invoice]:
    """The customer portal's invoice list: the organization's invoices, newest first."""
    return services.organization_invoices(organization_id)


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
