from functools import partial

from django.db import transaction

from .clients import EmailClient, SubscriptionEventQueue, SubscriptionUpdated
from .models import Subscription

BATCH_SIZE = 10  # the most SQS hands out per receive


def apply_subscription_updated(message: SubscriptionUpdated, *, emails: EmailClient) -> None:
    """Bring our copy of a subscription to the state the provider announced; email a change of plan.

    The queue delivers at least once and in any order. Each message carries the subscription's whole
    state and its version, so the version is the deduplication key: a message whose version is not
    newer than the one applied is a redelivery or overtaken, and is ignored, email included. (Storing
    processed message IDs would catch redeliveries, but not an old message arriving after a new one.)
    """
    with transaction.atomic():
        subscription = (
            Subscription.objects.select_for_update(of=("self",))
            .select_related("organization")
            .get(provider_ref=message.subscription_ref)
        )
        if message.version <= subscription.provider_version:
            return
        previous_plan = subscription.plan
        subscription.provider_version = message.version
        subscription.plan = message.plan
        subscription.seats = message.seats
        subscription.status = message.status
        subscription.save(update_fields=["provider_version", "plan", "seats", "status", "updated_at"])
        if subscription.plan != previous_plan:
            # sent once the transaction has committed, never for a rolled-back change, and without
            # holding the subscription's row lock while the email provider answers
            plan = subscription.get_plan_display()
            transaction.on_commit(
                partial(
                    emails.send,
                    to=subscription.organization.billing_email,
                    subject=f"Your plan is now {plan}",
                    body=f"{subscription.organization.name} is now on the {plan} plan.",
                )
            )


def consume(queue: SubscriptionEventQueue, *, emails: EmailClient) -> int:
    """Handle one batch of waiting messages, deleting each from the queue once handled; return the count."""
    messages = queue.receive(max_messages=BATCH_SIZE)
    for message in messages:
        apply_subscription_updated(message, emails=emails)
        # deleted once the change has committed: inside a caller's transaction, only if that one commits
        transaction.on_commit(partial(queue.delete, message))
    return len(messages)
