from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Charge:
    id: str
    amount_cents: int


class ChargeDeclinedError(Exception):
    """The provider declined the charge (insufficient funds, expired card, ...)."""


class PaymentProvider(Protocol):
    """Charges customers through the payment provider's API."""

    def charge(self, *, customer_ref: str, amount_cents: int, currency: str, idempotency_key: str) -> Charge:
        """Charge once per idempotency key: a repeated call with the same key gives the first call's result.

        The provider keeps that first result, a decline (`ChargeDeclinedError`) or an error included,
        for about 24 hours, then forgets the key. A key is therefore good for one attempt: its retries
        after a crash or a timeout, not a new attempt after a decline, nor one a day later.
        """
        ...


@dataclass(frozen=True)
class Event:
    name: str
    payload: dict[str, str | int]


class EventBus(Protocol):
    """Publishes domain events for other services (dunning, revenue reporting, notifications)."""

    def publish(self, event: Event) -> None: ...
