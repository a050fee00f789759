from dataclasses import dataclass, field


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
