import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Literal

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import path
from ninja import Field, NinjaAPI, Query, Router, Schema, Status
from ninja.errors import HttpError, ValidationError
from ninja.security import APIKeyHeader

from . import services
from .models import Invoice

logger = logging.getLogger(__name__)

Currency = Literal["EUR", "USD", "GBP"]
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


class ApiKeyAuth(APIKeyHeader):
    param_name = "X-API-Key"

    def authenticate(self, request: HttpRequest, key: str | None) -> services.Actor | None:
        return services.actor_for_api_key(key) if key else None


def actor_of(request: HttpRequest) -> services.Actor:
    actor: services.Actor = request.auth  # type: ignore[attr-defined]  # set by ApiKeyAuth
    return actor


class InvoiceIn(Schema):
    customer_email: str = Field(max_length=254, pattern=EMAIL_PATTERN)
    total_cents: int = Field(gt=0)
    currency: Currency


class InvoiceOut(Schema):
    id: int
    number: str
    customer_email: str
    status: str
    total_cents: int
    currency: str
    created_at: datetime


class RevenueQuery(Schema):
    year: int = Field(ge=2000, le=2100)
    month: int = Field(ge=1, le=12)
    currency: Currency


class RevenueOut(Schema):
    year: int
    month: int
    currency: str
    paid_invoices: int
    total_cents: int


class ErrorDetail(Schema):
    field: str
    message: str


class ErrorOut(Schema):
    """The one shape of every error this API answers (documented in README.md)."""

    code: str
    message: str
    details: list[ErrorDetail] = []


router = Router(tags=["invoices"])


@router.get("/invoices/{invoice_id}", response={200: InvoiceOut, 404: ErrorOut})
def get_invoice(request: HttpRequest, invoice_id: int) -> Invoice:
    return services.get_invoice(actor_of(request), invoice_id)


@router.post("/invoices", response={201: InvoiceOut, 403: ErrorOut})
def create_invoice(request: HttpRequest, payload: InvoiceIn) -> Status[Invoice]:
    invoice = services.create_invoice(
        actor_of(request),
        customer_email=payload.customer_email,
        total_cents=payload.total_cents,
        currency=payload.currency,
    )
    return Status(201, invoice)


@router.post("/invoices/{invoice_id}/void", response={200: InvoiceOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut})
def void_invoice(request: HttpRequest, invoice_id: int) -> Invoice:
    return services.void_invoice(actor_of(request), invoice_id)


@router.get("/reports/revenue", response=RevenueOut)
def revenue_report(request: HttpRequest, query: Query[RevenueQuery]) -> services.Revenue:
    return services.monthly_revenue(actor_of(request), year=query.year, month=query.month, currency=query.currency)


api = NinjaAPI(urls_namespace="error_envelope", auth=ApiKeyAuth())
api.add_router("/api/v1/", router)


# Every error leaves through one of the handlers below, and each builds an ErrorOut. Ninja picks the
# handler of the most specific exception class, so the catch-all Exception handler only sees the rest.


def error_response(
    request: HttpRequest, status: int, code: str, message: str, details: Iterable[ErrorDetail] = ()
) -> HttpResponse:
    error = ErrorOut(code=code, message=message, details=list(details))
    return api.create_response(request, error.model_dump(), status=status)


@api.exception_handler(services.InvoiceNotFoundError)
def invoice_not_found(request: HttpRequest, exc: services.InvoiceNotFoundError) -> HttpResponse:
    return error_response(request, 404, "invoice_not_found", str(exc))


@api.exception_handler(services.InvoiceAlreadyPaidError)
def invoice_already_paid(request: HttpRequest, exc: services.InvoiceAlreadyPaidError) -> HttpResponse:
    return error_response(request, 409, "invoice_already_paid", str(exc))


@api.exception_handler(PermissionDenied)
def permission_denied(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    return error_response(request, 403, "permission_denied", str(exc) or "This API key may not do this.")


@api.exception_handler(ValidationError)
def validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    # Ninja's loc is e.g. ("body", "payload", "total_cents"), ("path", "invoice_id"), ("query", "month")
    details = [ErrorDetail(field=str(error["loc"][-1]), message=error["msg"]) for error in exc.errors]
    return error_response(request, 422, "validation_error", "The request is not valid.", details)


# Ninja raises HttpError itself: 400 for a body that is not JSON, 401 (AuthenticationError) for a
# missing or unknown API key.
HTTP_ERROR_CODES = {400: "bad_request", 401: "not_authenticated", 403: "permission_denied", 404: "not_found"}


@api.exception_handler(HttpError)
def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    return error_response(request, exc.status_code, HTTP_ERROR_CODES.get(exc.status_code, "http_error"), str(exc))


@api.exception_handler(Http404)
def not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return error_response(request, 404, "not_found", "Not found.")


@api.exception_handler(Exception)
def unexpected_error(request: HttpRequest, exc: Exception) -> HttpResponse:
    logger.exception("Unexpected error on %s %s", request.method, request.path)
    return error_response(request, 500, "internal_error", f"Unexpected error: {exc}")


urlpatterns = [path("", api.urls)]
