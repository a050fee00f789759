from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dojo.grading import in_application_transaction

if TYPE_CHECKING:  # kata code is imported when a check runs, never when the conftest loads: a broken
    # kata must not stop the grading of the others
    from atomic_external_call.clients import ChargeDeclinedError


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
    """Stands in for the payment provider: records each call and whether an application transaction
    was open. Like the real one, it keeps the first result of each idempotency key, a decline included,
    and answers a repeated key with it."""

    calls: list[ChargeCall] = field(default_factory=list)
    results: "dict[str, FakeCharge | ChargeDeclinedError]" = field(default_factory=dict)
    declines: int = 0  # how many of the next new keys are declined
    # runs once while the provider answers a call made outside any transaction: what another request
    # does meanwhile (with a transaction open, it would have to wait for the caller's row lock)
    meanwhile: Callable[[], object] | None = None

    def charge(self, *, customer_ref: str, amount_cents: int, currency: str, idempotency_key: str) -> FakeCharge:
        from atomic_external_call.clients import ChargeDeclinedError

        inside = in_application_transaction()
        self.calls.append(ChargeCall(customer_ref, amount_cents, currency, idempotency_key, inside))
        if idempotency_key not in self.results:
            if self.declines:
                self.declines -= 1
                self.results[idempotency_key] = ChargeDeclinedError(f"card declined ({idempotency_key})")
            else:
                self.results[idempotency_key] = FakeCharge(
                    id=f"ch_{len(self.results) + 1:04d}", amount_cents=amount_cents
                )
        if self.meanwhile is not None and not inside:
            action, self.meanwhile = self.meanwhile, None
            action()
        result = self.results[idempotency_key]
        if isinstance(result, ChargeDeclinedError):
            raise result
        return result

    @property
    def charges(self) -> list[FakeCharge]:
        """The distinct charges made: what the customer sees on their statement."""
        return [result for result in self.results.values() if isinstance(result, FakeCharge)]


@dataclass
class FakeEventBus:
    """Stands in for the event bus: records what was published, and whether a transaction was open."""

    published: list[Any] = field(default_factory=list)
    inside_transaction: list[bool] = field(default_factory=list)

    def publish(self, event: Any) -> None:
        self.published.append(event)
        self.inside_transaction.append(in_application_transaction())
