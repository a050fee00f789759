from dataclasses import dataclass, field
from typing import Any

from dojo.grading import in_application_transaction


@dataclass(frozen=True)
class ChargeCall:
    customer_ref: str
    amount_cents: int
    currency: str
    idempotency_key: str
    inside_transaction: bool


@dataclass(frozen=True)
class FakeCharge:
    id: str
    amount_cents: int


@dataclass
class FakePaymentProvider:
    """Stands in for the payment provider: records each call and whether a transaction was open."""

    calls: list[ChargeCall] = field(default_factory=list)

    def charge(self, *, customer_ref: str, amount_cents: int, currency: str, idempotency_key: str) -> FakeCharge:
        self.calls.append(
            ChargeCall(customer_ref, amount_cents, currency, idempotency_key, in_application_transaction())
        )
        return FakeCharge(id=f"ch_{idempotency_key}", amount_cents=amount_cents)


@dataclass
class FakeEventBus:
    """Stands in for the event bus: records what was published, and when."""

    published: list[Any] = field(default_factory=list)

    def publish(self, event: Any) -> None:
        self.published.append(event)
