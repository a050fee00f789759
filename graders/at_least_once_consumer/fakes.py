from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class SentEmail:
    to: str
    subject: str
    body: str


@dataclass
class FakeEmailClient:
    """Stands in for the email provider: records what would have been sent."""

    sent: list[SentEmail] = field(default_factory=list)

    def send(self, *, to: str, subject: str, body: str) -> None:
        self.sent.append(SentEmail(to=to, subject=subject, body=body))


@dataclass
class FakeQueue:
    """Stands in for SQS: hands out the deliveries in the order scripted, duplicates and late copies
    included, in batches, and records which messages the consumer deleted."""

    deliveries: list[Any] = field(default_factory=list)
    deleted: list[Any] = field(default_factory=list)

    def deliver(self, *messages: Any) -> None:
        self.deliveries.extend(messages)

    def receive(self, *, max_messages: int) -> list[Any]:
        batch, self.deliveries = self.deliveries[:max_messages], self.deliveries[max_messages:]
        return batch

    def delete(self, message: Any) -> None:
        self.deleted.append(message)
