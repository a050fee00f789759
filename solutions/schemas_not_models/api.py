from datetime import datetime
from typing import Literal

from django.http import HttpRequest, HttpResponse
from django.urls import path
from ninja import Field, NinjaAPI, Router, Schema
from pydantic import ConfigDict

from dojo import api_errors
from dojo.api_errors import DatabaseId, Text

from . import services
from .models import Customer

# Authentication and authorization are left out of this kata to keep it short.

# no NUL character either: PostgreSQL cannot store one in a text column
EMAIL_PATTERN = r"^[^@\s\x00]+@[^@\s\x00]+\.[^@\s\x00]+$"


class CustomerIn(Schema):
    # a field we do not know is a client's mistake (a typo, an internal field): refuse it, never ignore it
    model_config = ConfigDict(extra="forbid")

    name: Text = Field(min_length=1, max_length=200)
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
def get_customer(request: HttpRequest, organization_id: DatabaseId, customer_id: DatabaseId) -> Customer:
    return services.get_customer(organization_id, customer_id)


@router.post("/organizations/{organization_id}/customers", response={201: CustomerOut})
def create_customer(request: HttpRequest, organization_id: DatabaseId, payload: CustomerIn) -> Customer:
    return services.create_customer(
        organization_id,
        name=payload.name,
        email=payload.email,
        currency=payload.currency,
    )


api = NinjaAPI(urls_namespace="schemas_not_models")
api_errors.install(api)
api.add_router("/api/v1/", router)


@api.exception_handler(services.CustomerNotFoundError)
def customer_not_found(request: HttpRequest, exc: services.CustomerNotFoundError) -> HttpResponse:
    return api.create_response(request, api_errors.error_body("customer_not_found", str(exc)), status=404)


urlpatterns = [path("", api_errors.urls(api))]
