from typing import Literal

from django.forms.models import model_to_dict
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from ninja import Field, NinjaAPI, Router, Schema
from pydantic import ConfigDict

from . import services

# Authentication and authorization are left out of this kata to keep it short.

EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


class CustomerIn(Schema):
    # a field we do not know is a client's mistake (a typo, an internal field): refuse it, never ignore it
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    email: str = Field(max_length=254, pattern=EMAIL_PATTERN)
    currency: Literal["EUR", "USD", "GBP"] = "EUR"


# fields API clients must never see
INTERNAL_FIELDS = ["provider_customer_id", "internal_notes"]


router = Router(tags=["customers"])


@router.get("/organizations/{organization_id}/customers/{customer_id}")
def get_customer(request: HttpRequest, organization_id: int, customer_id: int) -> JsonResponse:
    customer = services.get_customer(organization_id, customer_id)
    return JsonResponse(model_to_dict(customer, exclude=INTERNAL_FIELDS))


@router.post("/organizations/{organization_id}/customers")
def create_customer(request: HttpRequest, organization_id: int, payload: CustomerIn) -> JsonResponse:
    customer = services.create_customer(
        organization_id,
        name=payload.name,
        email=payload.email,
        currency=payload.currency,
    )
    return JsonResponse(model_to_dict(customer, exclude=INTERNAL_FIELDS), status=201)


api = NinjaAPI(urls_namespace="schemas_not_models")
api.add_router("/api/v1/", router)


@api.exception_handler(services.CustomerNotFoundError)
def customer_not_found(request: HttpRequest, exc: services.CustomerNotFoundError) -> HttpResponse:
    return api.create_response(request, {"detail": str(exc)}, status=404)


urlpatterns = [path("", api.urls)]
