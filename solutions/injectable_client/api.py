from django.http import HttpRequest, HttpResponse
from django.urls import path
from ninja import NinjaAPI, Router, Schema

from dojo import api_errors

from .clients import EmailProviderError, default_email_client
from .models import Invoice
from .services import send_invoice_email

# Authentication and authorization are left out of this kata to keep it short.


class InvoiceEmailOut(Schema):
    number: str
    email_status: str
    email_message_id: str


router = Router(tags=["invoices"])


@router.post("/invoices/{number}/email", response=InvoiceEmailOut)
def email_invoice(request: HttpRequest, number: api_errors.Text) -> Invoice:
    """The "Send by email" button of the invoice page."""
    return send_invoice_email(number, emails=default_email_client())


api = NinjaAPI(urls_namespace="injectable_client")
api_errors.install(api)  # one error shape for every answer, and no 500 for bad input
api.add_router("/api/v1/", router)


@api.exception_handler(Invoice.DoesNotExist)
def invoice_not_found(request: HttpRequest, exc: Invoice.DoesNotExist) -> HttpResponse:
    return api.create_response(request, api_errors.error_body("not_found", "Invoice not found."), status=404)


@api.exception_handler(EmailProviderError)
def email_provider_failed(request: HttpRequest, exc: EmailProviderError) -> HttpResponse:
    body = api_errors.error_body("bad_gateway", "The email provider failed; try again later.")
    return api.create_response(request, body, status=502)


urlpatterns = [path("", api_errors.urls(api))]
