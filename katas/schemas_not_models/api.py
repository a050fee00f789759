import json

from django.forms.models import model_to_dict
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from ninja import NinjaAPI, Router

from dojo import api_errors
from dojo.api_errors import DatabaseId

from . import services

# Authentication and authorization are left out of this kata to keep it short.

router = Router(tags=["customers"])


@router.get("/organizations/{organization_id}/customers/{customer_id}")
def get_customer(request: HttpRequest, organization_id: DatabaseId, customer_id: DatabaseId) -> JsonResponse:
    customer = services.get_customer(organization_id, customer_id)
    return JsonResponse(model_to_dict(customer))


@router.post("/organizations/{organization_id}/customers")
def create_customer(request: HttpRequest, organization_id: DatabaseId) -> JsonResponse:
    data = json.loads(request.body)
    customer = services.create_customer(
        organization_id,
        name=data["name"],
        email=data["email"],
        currency=data.get("currency", "EUR"),
    )
    return JsonResponse(model_to_dict(customer), status=201)


api = NinjaAPI(urls_namespace="schemas_not_models")
api_errors.install(api)
api.add_router("/api/", router)


@api.exception_handler(services.CustomerNotFoundError)
def customer_not_found(request: HttpRequest, exc: services.CustomerNotFoundError) -> HttpResponse:
    return api.create_response(request, api_errors.error_body("customer_not_found", str(exc)), status=404)


urlpatterns = [path("", api_errors.urls(api))]
