from dataclasses import dataclass, field
from typing import Any

from dojo.grading import in_application_transaction


@dataclass(frozen=True)
class Publication:
    name: str
    payload: dict[str, Any]
    inside_transaction: bool


@dataclass
class FakeEventBus:
    """Stands in for the event bus: records what was published, and whether a transaction was open."""

    publications: list[Publication] = field(default_factory=list)

    def publish(self, event: Any) -> None:
        self.publications.append(Publication(event.name, dict(event.payload), in_application_transaction()))

    def invoices(self) -> list[str]:
        """The invoice numbers announced as finalized, in publication order."""
        return [p.payload["invoice"] for p in self.publications if p.name == "invoice.finalized"]
