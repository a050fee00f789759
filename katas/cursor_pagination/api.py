from datetime import datetime

from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import path
from ninja import NinjaAPI, Router, Schema

from dojo import api_errors
from dojo.api_errors import DatabaseId

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


router = Router(tags=["invoices"])


@router.get("/organizations/{organization_id}/invoices", response=list[InvoiceOut])
def list_invoices(request: HttpRequest, organization_id: DatabaseId) -> QuerySet[Invoice]:
    """The customer portal's invoice list: the organization's invoices, newest first."""
    return services.organization_invoices(organization_id)


@router.get("/admin/invoices", response=list[AdminInvoiceOut])
def list_all_invoices(request: HttpRequest) -> QuerySet[Invoice]:
    """The back-office table: every organization's invoices, by number."""
    return services.all_invoices()


@router.get("/invoice-statuses", response=list[StatusOut])
def list_invoice_statuses(request: HttpRequest) -> list[services.StatusChoice]:
    """Not paginated on purpose: a small static enumeration is API-4's explicit opt-out."""
    return services.invoice_statuses()


api = NinjaAPI(urls_namespace="cursor_pagination")
api_errors.install(api)
api.add_router("/api/v1/", router)

urlpatterns = [path("", api_errors.urls(api))]
