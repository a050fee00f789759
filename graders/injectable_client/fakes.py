from dataclasses import dataclass, field


@dataclass(frozen=True)
class SentEmail:
    to: str
    subject: str
    text: str
    idempotency_key: str


@dataclass
class FakeEmailClient:
    """Stands in for the email provider: knows which addresses are suppressed, records what it sends."""

    suppressed: set[str] = field(default_factory=set)
    lookups: list[str] = field(default_factory=list)
    sent: list[SentEmail] = field(default_factory=list)

    def is_suppressed(self, address: str) -> bool:
        self.lookups.append(address)
        return address in self.suppressed

    def send(self, *, to: str, subject: str, text: str, idempotency_key: str) -> str:
        self.sent.append(SentEmail(to=to, subject=subject, text=text, idempotency_key=idempotency_key))
        return f"fake-{len(self.sent)}"
