from .models import Subscription


class SubscriptionNotFoundError(Exception):
    """No subscription with this id."""


def get_subscription(subscription_id: int) -> Subscription:
    try:
        return Subscription.objects.select_related("plan", "customer").get(pk=subscription_id)
    except Subscription.DoesNotExist:
        raise SubscriptionNotFoundError(f"Subscription {subscription_id} does not exist.") from None
