"""Stand-ins for the providers that several graders' katas call, so that no grader writes them out again.

`FakeEmailClient` is what the `emails` fixture (`dojo.plugin.fixtures`) gives a check: the kata's code
sends through it, and the check reads what was sent and whether an application transaction was open at
that moment. A grader that needs more (`thin_router` records which code sent each email) keeps its own
in its `fakes.py`, and its conftest's `emails` fixture takes precedence.
"""

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
