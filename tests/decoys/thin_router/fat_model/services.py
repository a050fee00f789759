from dataclasses import dataclass

from django.utils import timezone

from .clients import EmailClient
from .models import Plan, PlanChangeNotAllowedError, Subscription

__all__ = ["PlanChange", "PlanChangeNotAllowedError", "PlanNotFoundError", "SubscriptionNotFoundError"]


class SubscriptionNotFoundError(Exception):
    """No subscription with this id."""


class PlanNotFoundError(Exception):
    """No active plan with this code."""


@dataclass(frozen=True)
class PlanChange:
    subscription: Subscription
    prorated_charge_cents: int


def get_subscription(subscription_id: int) -> Subscription:
    try:
        return Subscription.objects.select_related("plan", "customer").get(pk=subscription_id)
    except Subscription.DoesNotExist:
        raise SubscriptionNotFoundError(f"Subscription {subscription_id} does not exist.") from None


def change_plan(subscription_id: int, plan_code: str, *, emails: EmailClient) -> PlanChange:
    """Move an active subscription to a dearer plan now; the subscription knows how."""
    subscription = get_subscription(subscription_id)
    new_plan = Plan.objects.filter(code=plan_code, is_active=True).first()
    if new_plan is None:
        raise PlanNotFoundError(f"There is no plan {plan_code!r}.")
    prorated_charge = subscription.change_plan(new_plan, at=timezone.now(), emails=emails)
    return PlanChange(subscription=subscription, prorated_charge_cents=prorated_charge)
