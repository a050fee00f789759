from dataclasses import dataclass
from functools import partial

from django.db import transaction
from django.utils import timezone

from .clients import EmailClient
from .models import Invoice, Plan, Subscription


class SubscriptionNotFoundError(Exception):
    """No subscription with this id."""


class PlanNotFoundError(Exception):
    """No active plan with this code."""


class PlanChangeNotAllowedError(Exception):
    """The subscription cannot move to this plan now; the message says why."""


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
    """Move an active subscription to a dearer plan now, invoice the prorated difference, tell the customer.

    A downgrade is refused: it takes effect at renewal, not mid-period.
    """
    with transaction.atomic():
        # the row lock keeps two concurrent changes from both charging the difference. It locks the
        # subscription alone, without joins: when another change commits first, PostgreSQL re-reads the
        # locked row but re-checks a join against the plan it saw before, finds no row, and the second
        # change would be told that the subscription does not exist instead of why it is refused
        try:
            subscription = Subscription.objects.select_for_update().get(pk=subscription_id)
        except Subscription.DoesNotExist:
            raise SubscriptionNotFoundError(f"Subscription {subscription_id} does not exist.") from None
        new_plan = Plan.objects.filter(code=plan_code, is_active=True).first()
        if new_plan is None:
            raise PlanNotFoundError(f"There is no plan {plan_code!r}.")
        if subscription.status != Subscription.Status.ACTIVE:
            raise PlanChangeNotAllowedError("Only an active subscription can change plans.")
        if new_plan.pk == subscription.plan_id:
            raise PlanChangeNotAllowedError(f"The subscription is already on the {new_plan.name} plan.")
        price_difference = new_plan.monthly_price_cents - subscription.plan.monthly_price_cents
        if price_difference < 0:
            raise PlanChangeNotAllowedError("A downgrade takes effect at renewal; it cannot be made mid-period.")

        # the customer pays the difference for the part of the period that is left
        prorated_charge = round(price_difference * subscription.fraction_of_period_left(timezone.now()))
        subscription.plan = new_plan
        subscription.save(update_fields=["plan", "updated_at"])
        if prorated_charge > 0:
            Invoice.objects.create(
                subscription=subscription,
                description=f"Upgrade to {new_plan.name}, prorated",
                amount_cents=prorated_charge,
            )
        # sent once the outermost transaction commits: never for a change that rolled back, its own or its
        # caller's (a view with ATOMIC_REQUESTS, a batch job), and no row lock held while the provider answers
        transaction.on_commit(
            partial(
                emails.send,
                to=subscription.customer.email,
                subject=f"Your plan is now {new_plan.name}",
                body=f"Your subscription has moved to the {new_plan.name} plan.",
            )
        )
    return PlanChange(subscription=subscription, prorated_charge_cents=prorated_charge)
