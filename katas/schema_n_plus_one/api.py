from datetime import date

from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import path
from ninja import NinjaAPI, Router, Schema

from dojo.api_errors import DatabaseId, ErrorOut, install, urls

from . import services
from .models import Invoice

# Authentication and authorization are left out of this kata to keep it short.


class InvoiceOut(Schema):
    number: str
    status: str
    issued_on: date | None
    customer_name: str
    line_count: int
    total_cents: int

    @staticmethod
    def resolve_customer_name(invoice: Invoice) -> str:
        return invoice.customer.name

    @staticmethod
    def resolve_line_count(invoice: Invoice) -> int:
        return len(invoice.lines.all())

    @staticmethod
    def resolve_total_cents(invoice: Invoice) -> int:
        return sum(line.amount_cents for line in invoice.lines.all())


router = Router(tags=["invoices"])


@router.get("/organizations/{organization_id}/invoices", response={200: list[InvoiceOut], 422: ErrorOut})
def list_invoices(request: HttpRequest, organization_id: DatabaseId) -> QuerySet[Invoice]:
    return services.recent_invoices(organization_id)


api = NinjaAPI(urls_namespace="schema_n_plus_one")
install(api)
api.add_router("/api/v1/", router)

urlpatterns = [path("", urls(api))]
