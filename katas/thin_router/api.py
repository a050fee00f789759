from datetime import datetime

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.utils import timezone
from ninja import Field, NinjaAPI, Router, Schema
from ninja.errors import HttpError

from dojo import api_errors

from . import services
from .models import Invoice, Plan, Subscription

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
) -> dict[str, object]:
    subscription = services.get_subscription(subscription_id)
    new_plan = Plan.objects.filter(code=payload.plan, is_active=True).first()
    if new_plan is None:
        raise HttpError(404, f"There is no plan {payload.plan!r}.")
    if subscription.status != Subscription.Status.ACTIVE:
        raise HttpError(409, "Only an active subscription can change plans.")
    if new_plan.pk == subscription.plan_id:
        raise HttpError(409, f"The subscription is already on the {new_plan.name} plan.")
    price_difference = new_plan.monthly_price_cents - subscription.plan.monthly_price_cents
    if price_difference < 0:
        raise HttpError(409, "A downgrade takes effect at renewal; it cannot be made mid-period.")

    # the customer pays the difference for the part of the period that is left
    prorated_charge = round(price_difference * subscription.fraction_of_period_left(timezone.now()))
    with transaction.atomic():
        subscription.plan = new_plan
        subscription.save(update_fields=["plan", "updated_at"])
        if prorated_charge > 0:
            Invoice.objects.create(
                subscription=subscription,
                description=f"Upgrade to {new_plan.name}, prorated",
                amount_cents=prorated_charge,
            )
    return {"subscription": subscription, "prorated_charge_cents": prorated_charge}


api = NinjaAPI(urls_namespace="thin_router")
api_errors.install(api)  # one error shape for every answer, and no 500 for bad input
api.add_router("/api/v1/", router)


@api.exception_handler(services.SubscriptionNotFoundError)
def subscription_not_found(request: HttpRequest, exc: services.SubscriptionNotFoundError) -> HttpResponse:
    return api.create_response(request, api_errors.error_body("not_found", str(exc)), status=404)


urlpatterns = [path("", api_errors.urls(api))]
