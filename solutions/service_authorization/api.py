from datetime import date

from django.http import HttpRequest, HttpResponse
from django.urls import path
from ninja import NinjaAPI, Router, Schema
from ninja.security import APIKeyHeader

from dojo import api_errors

from .models import Invoice, Member
from .services import InvoiceNotFoundError, get_invoice


class MemberAuth(APIKeyHeader):
    """Coarse-grained: the caller is one of our members, or the request ends here with a 401.

    Our gateway signs users in and sets X-User-Id; the header is trusted only behind the gateway.
    """

    param_name = "X-User-Id"

    def authenticate(self, request: HttpRequest, key: str | None) -> Member | None:
        if key is None or not (key.isascii() and key.isdecimal()) or not 1 <= int(key) <= api_errors.BIGINT_MAX:
            return None  # not an ID the database can hold: nobody we know
        return Member.objects.filter(pk=int(key)).first()


class MemberRequest(HttpRequest):
    auth: Member  # set by MemberAuth before any endpoint runs


class InvoiceOut(Schema):
    id: int
    number: str
    customer_name: str
    amount_due_cents: int
    status: str
    due_on: date

    @staticmethod
    def resolve_customer_name(invoice: Invoice) -> str:
        return invoice.customer.name


class InvoiceSummaryOut(Schema):
    number: str
    amount_due_cents: int
    status: str


router = Router(tags=["invoices"])


@router.get("/invoices/{invoice_id}", response=InvoiceOut)
def read_invoice(request: MemberRequest, invoice_id: api_errors.DatabaseId) -> Invoice:
    """The invoice page of the customer portal."""
    return get_invoice(invoice_id, member=request.auth)


@router.get("/invoices/{invoice_id}/summary", response=InvoiceSummaryOut)
def invoice_summary(request: MemberRequest, invoice_id: api_errors.DatabaseId) -> Invoice:
    """The card that the mobile app shows in its invoice notifications."""
    return get_invoice(invoice_id, member=request.auth)


api = NinjaAPI(urls_namespace="service_authorization", auth=MemberAuth())
api_errors.install(api)  # one error shape for every answer, and no 500 for bad input
api.add_router("/api/v1/", router)


@api.exception_handler(InvoiceNotFoundError)
def invoice_not_found(request: HttpRequest, exc: InvoiceNotFoundError) -> HttpResponse:
    return api.create_response(request, api_errors.error_body("not_found", "Invoice not found."), status=404)


urlpatterns = [path("", api_errors.urls(api))]
