from dataclasses import dataclass, field

from dojo.grading import in_application_transaction


@dataclass(frozen=True)
class SentEmail:
    to: str
    subject: str
    text: str
    idempotency_key: str


@dataclass
class FakeEmailClient:
    """Stands in for the email provider: knows which addresses are suppressed, records what it sends.

    It also records each call made while an `atomic()` block of the kata's code was open (the
    test's own transaction does not count): a provider call must not hold a transaction open.
    """

    suppressed: set[str] = field(default_factory=set)
    lookups: list[str] = field(default_factory=list)
    sent: list[SentEmail] = field(default_factory=list)
    calls_in_transaction: list[str] = field(default_factory=list)

    def is_suppressed(self, address: str) -> bool:
        self._record("is_suppressed()")
        self.lookups.append(address)
        return address in self.suppressed

    def send(self, *, to: str, subject: str, text: str, idempotency_key: str) -> str:
        self._record("send()")
        self.sent.append(SentEmail(to=to, subject=subject, text=text, idempotency_key=idempotency_key))
        return f"fake-{len(self.sent)}"

    def _record(self, call: str) -> None:
        if in_application_transaction():
            self.calls_in_transaction.append(call)
