from datetime import datetime
from typing import Literal

from django.http import Http404, HttpRequest
from django.urls import path
from ninja import Field, NinjaAPI, Query, Router, Schema, Status
from ninja.security import APIKeyHeader

from . import services
from .models import Invoice

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


class ConflictOut(Schema):
    error: str


router = Router(tags=["invoices"])


@router.get("/invoices/{invoice_id}", response=InvoiceOut)
def get_invoice(request: HttpRequest, invoice_id: int) -> Invoice:
    try:
        return services.get_invoice(actor_of(request), invoice_id)
    except services.InvoiceNotFoundError as error:
        raise Http404(str(error)) from error


@router.post("/invoices", response={201: InvoiceOut})
def create_invoice(request: HttpRequest, payload: InvoiceIn) -> Invoice:
    return services.create_invoice(
        actor_of(request),
        customer_email=payload.customer_email,
        total_cents=payload.total_cents,
        currency=payload.currency,
    )


@router.post("/invoices/{invoice_id}/void", response={200: InvoiceOut, 409: ConflictOut})
def void_invoice(request: HttpRequest, invoice_id: int) -> Invoice | Status[dict[str, str]]:
    try:
        return services.void_invoice(actor_of(request), invoice_id)
    except services.InvoiceNotFoundError as error:
        raise Http404(str(error)) from error
    except services.InvoiceAlreadyPaidError as error:
        return Status(409, {"error": str(error)})


@router.get("/reports/revenue", response=RevenueOut)
def revenue_report(request: HttpRequest, query: Query[RevenueQuery]) -> services.Revenue:
    return services.monthly_revenue(actor_of(request), year=query.year, month=query.month, currency=query.currency)


api = NinjaAPI(urls_namespace="error_envelope", auth=ApiKeyAuth())
api.add_router("/api/v1/", router)

urlpatterns = [path("", api.urls)]
