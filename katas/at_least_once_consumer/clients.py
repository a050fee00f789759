from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class SubscriptionUpdated:
    """The billing provider's `subscription.updated` message: the subscription's whole new state."""

    message_id: str
    subscription_ref: str  # the provider's ID of the subscription
    version: int  # the provider numbers the changes of each subscription: 1, 2, 3, ...
    plan: str
    seats: int
    status: str


class SubscriptionEventQueue(Protocol):
    """The queue (Amazon SQS) that carries the billing provider's subscription events to us."""

    def receive(self, *, max_messages: int) -> list[SubscriptionUpdated]:
        """Up to `max_messages` waiting messages. A message that is not deleted is delivered again later."""
        ...

    def delete(self, message: SubscriptionUpdated) -> None:
        """Acknowledge a handled message, so that the queue stops delivering it."""
        ...


class EmailClient(Protocol):
    """Sends transactional email through the email provider; services receive one as an argument."""

    def send(self, *, to: str, subject: str, body: str) -> None: ...
