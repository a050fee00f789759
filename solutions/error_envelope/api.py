import json
import logging
from collections.abc import Callable, Iterable
from datetime import datetime
from functools import wraps
from typing import Annotated, Literal

from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.urls import URLPattern, URLResolver, path
from ninja import Field, NinjaAPI, Path, Query, Router, Schema, Status
from ninja.errors import HttpError, ValidationError
from ninja.security import APIKeyHeader

from . import services
from .models import Invoice

logger = logging.getLogger(__name__)

Currency = Literal["EUR", "USD", "GBP"]
# no NUL character either: PostgreSQL cannot store one in a text column
EMAIL_PATTERN = r"^[^@\s\x00]+@[^@\s\x00]+\.[^@\s\x00]+$"
# ids the columns can hold: a larger number is answered as what it is, a client mistake (422)
InvoiceId = Annotated[int, Path(ge=1, le=2**63 - 1)]
MAX_CENTS = 2**31 - 1


class ApiKeyAuth(APIKeyHeader):
    param_name = "X-API-Key"

    def authenticate(self, request: HttpRequest, key: str | None) -> services.Actor | None:
        if not key or "\x00" in key:
            return None
        return services.actor_for_api_key(key)


def actor_of(request: HttpRequest) -> services.Actor:
    actor: services.Actor = request.auth  # type: ignore[attr-defined]  # set by ApiKeyAuth
    return actor


class InvoiceIn(Schema):
    customer_email: str = Field(max_length=254, pattern=EMAIL_PATTERN)
    total_cents: int = Field(gt=0, le=MAX_CENTS)
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
def get_invoice(request: HttpRequest, invoice_id: InvoiceId) -> Invoice:
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
def void_invoice(request: HttpRequest, invoice_id: InvoiceId) -> Invoice:
    return services.void_invoice(actor_of(request), invoice_id)


@router.get("/reports/revenue", response=RevenueOut)
def revenue_report(request: HttpRequest, query: Query[RevenueQuery]) -> services.Revenue:
    return services.monthly_revenue(actor_of(request), year=query.year, month=query.month, currency=query.currency)


api = NinjaAPI(urls_namespace="error_envelope", auth=ApiKeyAuth())
api.add_router("/api/v1/", router)


# Every error leaves through one of the handlers below, and each builds an ErrorOut. Ninja picks the
# handler of the most specific exception class, so the catch-all Exception handler only sees the rest.


def error_body(code: str, message: str, details: Iterable[ErrorDetail] = ()) -> dict[str, object]:
    return ErrorOut(code=code, message=message, details=list(details)).model_dump()


def error_response(
    request: HttpRequest, status: int, code: str, message: str, details: Iterable[ErrorDetail] = ()
) -> HttpResponse:
    return api.create_response(request, error_body(code, message, details), status=status)


@api.exception_handler(services.InvoiceNotFoundError)
def invoice_not_found(request: HttpRequest, exc: services.InvoiceNotFoundError) -> HttpResponse:
    return error_response(request, 404, "invoice_not_found", str(exc))


@api.exception_handler(services.InvoiceAlreadyPaidError)
def invoice_already_paid(request: HttpRequest, exc: services.InvoiceAlreadyPaidError) -> HttpResponse:
    return error_response(request, 409, "invoice_already_paid", str(exc))


@api.exception_handler(PermissionDenied)
def permission_denied(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    return error_response(request, 403, "permission_denied", str(exc) or "This API key may not do this.")


def field_of(loc: Iterable[object]) -> str:
    """Ninja's location of an error as the field the client sent: the whole path, not its last part.

    ("body", "payload", "lines", 0, "amount") is "lines.0.amount": the first part says where the value
    came from, and for a body the second is the view's parameter; the client knows neither.
    """
    parts = [str(part) for part in loc]
    where = parts.pop(0) if parts else "body"
    if where == "body" and parts:
        parts.pop(0)
    return ".".join(parts) or where


@api.exception_handler(ValidationError)
def validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    # Ninja's loc is e.g. ("body", "payload", "total_cents"), ("path", "invoice_id"), ("query", "month")
    details = [
        ErrorDetail(field=field_of(error.get("loc", ())), message=str(error.get("msg", ""))) for error in exc.errors
    ]
    return error_response(request, 422, "validation_error", "The request is not valid.", details)


# Ninja raises HttpError itself: 400 for a body that is not JSON, 401 (AuthenticationError) for a
# missing or unknown API key.
HTTP_ERROR_CODES = {400: "bad_request", 401: "not_authenticated", 403: "permission_denied", 404: "not_found"}


@api.exception_handler(HttpError)
def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    return error_response(request, exc.status_code, HTTP_ERROR_CODES.get(exc.status_code, "http_error"), str(exc))


@api.exception_handler(Http404)
@api.exception_handler(ObjectDoesNotExist)  # a lookup that found nothing, e.g. Invoice.DoesNotExist
def not_found(request: HttpRequest, exc: Exception) -> HttpResponse:
    return error_response(request, 404, "not_found", "Not found.")


@api.exception_handler(Exception)
def unexpected_error(request: HttpRequest, exc: Exception) -> HttpResponse:
    # The cause goes to the logs, with its traceback; the caller learns only that it was not their fault.
    logger.exception("Unexpected error on %s %s", request.method, request.path)
    return error_response(request, 500, "internal_error", "Something went wrong on our side. Please try again later.")


def method_not_allowed_in_the_envelope(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Ninja answers a method a path does not have with a plain-text 405, outside the handlers above."""

    @wraps(view)
    def answer(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        response = view(request, *args, **kwargs)
        if not isinstance(response, HttpResponseNotAllowed):
            return response
        allowed = response["Allow"]
        body = error_body("method_not_allowed", f"{request.method} is not allowed here; use {allowed}.")
        enveloped = HttpResponse(json.dumps(body), status=405, content_type="application/json")
        enveloped["Allow"] = allowed
        return enveloped

    return answer


def enveloped_urls() -> tuple[list[URLPattern | URLResolver], str, str]:
    patterns, app_name, namespace = api.urls
    for pattern in patterns:
        if isinstance(pattern, URLPattern):
            pattern.callback = method_not_allowed_in_the_envelope(pattern.callback)
    return patterns, app_name, namespace


urlpatterns = [path("", enveloped_urls())]
