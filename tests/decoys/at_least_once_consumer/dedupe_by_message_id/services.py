from django.db import transaction

from .clients import EmailClient, SubscriptionEventQueue, SubscriptionUpdated
from .models import ProcessedMessage, Subscription

BATCH_SIZE = 10  # the most SQS hands out per receive


def apply_subscription_updated(message: SubscriptionUpdated, *, emails: EmailClient) -> None:
    """Bring our copy of a subscription to the state the provider announced; email a change of plan."""
    with transaction.atomic():
        _, first_delivery = ProcessedMessage.objects.get_or_create(message_id=message.message_id)
        if not first_delivery:
            return
        subscription = (
            Subscription.objects.select_for_update(of=("self",))
            .select_related("organization")
            .get(provider_ref=message.subscription_ref)
        )
        previous_plan = subscription.plan
        subscription.plan = message.plan
        subscription.seats = message.seats
        subscription.status = message.status
        subscription.save(update_fields=["plan", "seats", "status", "updated_at"])

    # after the commit: a slow email provider must not hold the subscription's row lock
    if subscription.plan != previous_plan:
        emails.send(
            to=subscription.organization.billing_email,
            subject=f"Your plan is now {subscription.get_plan_display()}",
            body=f"{subscription.organization.name} is now on the {subscription.get_plan_display()} plan.",
        )


def consume(queue: SubscriptionEventQueue, *, emails: EmailClient) -> int:
    """Handle one batch of waiting messages, deleting each from the queue once handled; return the count."""
    messages = queue.receive(max_messages=BATCH_SIZE)
    for message in messages:
        apply_subscription_updated(message, emails=emails)
        queue.delete(message)
    return len(messages)
