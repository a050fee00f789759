from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Event:
    name: str
    payload: dict[str, str | int]


class EventBus(Protocol):
    """Publishes domain events to other services (notifications, revenue reporting, dunning)."""

    def publish(self, event: Event) -> None: ...
