from typing import Protocol

from django.core.mail import send_mail


class EmailClient(Protocol):
    """Sends transactional email; services receive one as an argument."""

    def send(self, *, to: str, subject: str, body: str) -> None: ...


class DjangoEmailClient:
    """Sends through Django's email backend (the provider's SMTP relay in production)."""

    def send(self, *, to: str, subject: str, body: str) -> None:
        send_mail(subject, body, from_email=None, recipient_list=[to])
