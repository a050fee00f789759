from dataclasses import dataclass, field

from dojo.grading import in_application_transaction


@dataclass(frozen=True)
class SentEmail:
    to: str
    subject: str
    body: str
    inside_transaction: bool


@dataclass
class FakeEmailClient:
    """Stands in for the email provider: records what would have been sent, and whether an
    application transaction was open at that moment."""

    sent: list[SentEmail] = field(default_factory=list)

    def send(self, *, to: str, subject: str, body: str) -> None:
        self.sent.append(SentEmail(to=to, subject=subject, body=body, inside_transaction=in_application_transaction()))
