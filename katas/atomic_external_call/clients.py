from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Charge:
    id: str
    amount_cents: int


class PaymentProvider(Protocol):
    """Charges customers through the payment provider's API."""

    def charge(self, *, customer_ref: str, amount_cents: int, currency: str, idempotency_key: str) -> Charge:
        """Charge once per idempotency key: a repeated call with the same key returns the same charge."""
        ...


@dataclass(frozen=True)
class Event:
    name: str
    payload: dict[str, str | int]


class EventBus(Protocol):
    """Publishes domain events for other services (dunning, revenue reporting, notifications)."""

    def publish(self, event: Event) -> None: ...
