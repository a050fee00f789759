from datetime import datetime
from typing import Literal

from django.http import HttpRequest, HttpResponse
from django.urls import path
from ninja import Field, NinjaAPI, Router, Schema

from . import services
from .models import Customer

# Authentication and authorization are left out of this kata to keep it short.

EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


class CustomerIn(Schema):
    name: str = Field(min_length=1, max_length=200)
    email: str = Field(max_length=254, pattern=EMAIL_PATTERN)
    currency: Literal["EUR", "USD", "GBP"] = "EUR"


class CustomerOut(Schema):
    """What API clients may see of a customer: a new model field stays private until it is added here."""

    id: int
    name: str
    email: str
    currency: str
    created_at: datetime


router = Router(tags=["customers"])


@router.get("/organizations/{organization_id}/customers/{customer_id}", response=CustomerOut)
def get_customer(request: HttpRequest, organization_id: int, customer_id: int) -> Customer:
    return services.get_customer(organization_id, customer_id)


@router.post("/organizations/{organization_id}/customers", response={201: CustomerOut})
def create_customer(request: HttpRequest, organization_id: int, payload: CustomerIn) -> Customer:
    return services.create_customer(
        organization_id,
        name=payload.name,
        email=payload.email,
        currency=payload.currency,
    )


api = NinjaAPI(urls_namespace="schemas_not_models")
api.add_router("/api/v1/", router)


@api.exception_handler(services.CustomerNotFoundError)
def customer_not_found(request: HttpRequest, exc: services.CustomerNotFoundError) -> HttpResponse:
    return api.create_response(request, {"detail": str(exc)}, status=404)


urlpatterns = [path("", api.urls)]
