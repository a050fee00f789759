from dataclasses import dataclass, field
from typing import Any


@dataclass
class FakeQueue:
    """Stands in for SQS: hands out the deliveries in the order scripted, duplicates and late copies
    included, and records which messages the consumer deleted. Like SQS, it may hand out fewer
    messages than asked for: at most `per_receive` at a time."""

    deliveries: list[Any] = field(default_factory=list)
    deleted: list[Any] = field(default_factory=list)
    per_receive: int = 2

    def deliver(self, *messages: Any) -> None:
        self.deliveries.extend(messages)

    def receive(self, *, max_messages: int) -> list[Any]:
        count = min(max_messages, self.per_receive)
        batch, self.deliveries = self.deliveries[:count], self.deliveries[count:]
        return batch

    def delete(self, message: Any) -> None:
        self.deleted.append(message)
