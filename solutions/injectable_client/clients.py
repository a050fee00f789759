"""The email provider: its client, and the Protocol that services depend on."""

import os
from functools import cache
from typing import Protocol
from urllib.parse import quote

import httpx

EMAIL_PROVIDER_URL = "https://api.mailer.example"  # in production: from settings
SENDER = "billing@ourapp.example"
TIMEOUT = httpx.Timeout(10.0, connect=3.0)


class EmailProviderError(Exception):
    """The email provider refused or failed a request."""


class EmailClient(Protocol):
    """Sends email through the email provider. Services receive one as an argument; tests pass a fake."""

    def is_suppressed(self, address: str) -> bool:
        """True when the provider will not send to `address` (it bounced, or its owner complained)."""
        ...

    def send(self, *, to: str, subject: str, text: str, idempotency_key: str) -> str:
        """Send one email and return the provider's message ID; a repeated key sends nothing new."""
        ...


def email_provider_http() -> httpx.Client:
    """An httpx client for the email provider: its base URL, our API key, our timeouts."""
    return httpx.Client(
        base_url=EMAIL_PROVIDER_URL,
        headers={"Authorization": f"Bearer {os.environ.get('MAILER_API_KEY', '')}"},
        timeout=TIMEOUT,
    )


class HttpEmailClient:
    """The email provider's REST API: the only code that knows its URLs and its JSON."""

    def __init__(self, http: httpx.Client) -> None:
        self._http = http

    def is_suppressed(self, address: str) -> bool:
        # the address is one path segment: escaped, so that a "#", "?" or "/" in it cannot end the path
        try:
            response = self._http.get(f"/v1/suppressions/{quote(address, safe='@')}")
        except httpx.RequestError as error:  # no answer at all (a timeout, a refused connection): a failure too
            raise EmailProviderError(f"suppression lookup failed: {type(error).__name__}") from error
        if response.status_code == httpx.codes.NOT_FOUND:
            return False
        if response.status_code == httpx.codes.OK:
            return True
        # a redirect (the endpoint moved), a 204, any error: not an answer to the lookup
        raise EmailProviderError(f"suppression lookup answered {response.status_code}")

    def send(self, *, to: str, subject: str, text: str, idempotency_key: str) -> str:
        try:
            response = self._http.post(
                "/v1/emails",
                json={"from": SENDER, "to": [to], "subject": subject, "text": text},
                headers={"Idempotency-Key": idempotency_key},
            )
        except httpx.RequestError as error:
            raise EmailProviderError(f"sending failed: {type(error).__name__}") from error
        if not response.is_success:  # a redirect is no send either: only a 2xx answer carries the message ID
            raise EmailProviderError(f"sending answered {response.status_code}")
        try:
            return str(response.json()["id"])
        except (ValueError, KeyError, TypeError) as error:  # no JSON, or JSON without an ID: not a send we can record
            raise EmailProviderError(f"sending answered {response.status_code} without a message ID") from error


@cache
def default_email_client() -> HttpEmailClient:
    """The production client, built on first use (never at import) and shared by the process."""
    return HttpEmailClient(email_provider_http())
