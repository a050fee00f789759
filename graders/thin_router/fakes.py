import importlib
import inspect
from dataclasses import dataclass, field
from pathlib import Path

from dojo.grading import in_application_transaction


def kata_origin(slug: str) -> str:
    """Where in the kata's own code the current call comes from, e.g. `services.py, change_plan()`."""
    package_file = importlib.import_module(slug).__file__
    assert package_file is not None
    kata_dir = Path(package_file).resolve().parent
    frame = inspect.currentframe()
    while frame is not None:
        path = Path(frame.f_code.co_filename).resolve()
        if path.is_relative_to(kata_dir):
            return f"{path.relative_to(kata_dir)}, {frame.f_code.co_qualname}()"
        frame = frame.f_back
    return "outside the kata"


@dataclass(frozen=True)
class SentEmail:
    to: str
    subject: str
    body: str
    sent_from: str
    in_transaction: bool  # an atomic() block of the kata's code was open when the email went out


@dataclass
class FakeEmailClient:
    """Stands in for the email provider: records what would have been sent, which code sent it, and when."""

    sent: list[SentEmail] = field(default_factory=list)

    def send(self, *, to: str, subject: str, body: str) -> None:
        self.sent.append(
            SentEmail(
                to=to,
                subject=subject,
                body=body,
                sent_from=kata_origin("thin_router"),
                in_transaction=in_application_transaction(),
            )
        )
