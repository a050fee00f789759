from datetime import datetime

from django.http import HttpRequest, HttpResponse
from django.urls import path
from ninja import Field, NinjaAPI, Router, Schema

from dojo import api_errors

from . import services
from .clients import DjangoEmailClient
from .models import Subscription

# Authentication and authorization are left out of this kata to keep it short.


class SubscriptionOut(Schema):
    id: int
    plan: str
    status: str
    current_period_end: datetime

    @staticmethod
    def resolve_plan(subscription: Subscription) -> str:
        return subscription.plan.code


class PlanChangeIn(Schema):
    plan: api_errors.Text = Field(min_length=1, max_length=32)


class PlanChangeOut(Schema):
    subscription: SubscriptionOut
    prorated_charge_cents: int


router = Router(tags=["subscriptions"])


@router.get("/subscriptions/{subscription_id}", response=SubscriptionOut)
def get_subscription(request: HttpRequest, subscription_id: api_errors.DatabaseId) -> Subscription:
    return services.get_subscription(subscription_id)


@router.post("/subscriptions/{subscription_id}/change-plan", response=PlanChangeOut)
def change_plan(
    request: HttpRequest, subscription_id: api_errors.DatabaseId, payload: PlanChangeIn
) -> services.PlanChange:
    return services.change_plan(subscription_id, payload.plan, emails=DjangoEmailClient())


api = NinjaAPI(urls_namespace="thin_router")
api_errors.install(api)  # one error shape for every answer, and no 500 for bad input
api.add_router("/api/v1/", router)


@api.exception_handler(services.SubscriptionNotFoundError)
def subscription_not_found(request: HttpRequest, exc: services.SubscriptionNotFoundError) -> HttpResponse:
    return api.create_response(request, api_errors.error_body("not_found", str(exc)), status=404)


@api.exception_handler(services.PlanNotFoundError)
def plan_not_found(request: HttpRequest, exc: services.PlanNotFoundError) -> HttpResponse:
    return api.create_response(request, api_errors.error_body("not_found", str(exc)), status=404)


@api.exception_handler(services.PlanChangeNotAllowedError)
def plan_change_not_allowed(request: HttpRequest, exc: services.PlanChangeNotAllowedError) -> HttpResponse:
    return api.create_response(request, api_errors.error_body("conflict", str(exc)), status=409)


urlpatterns = [path("", api_errors.urls(api))]
