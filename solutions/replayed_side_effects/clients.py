from typing import Protocol


class EmailClient(Protocol):
    """Sends transactional email through the email provider; services receive one as an argument."""

    def send(self, *, to: str, subject: str, body: str) -> None: ...
