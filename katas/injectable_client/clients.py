"""The email provider: where it is, who we are to it, and its errors."""

import os

import httpx

EMAIL_PROVIDER_URL = "https://api.mailer.example"  # in production: from settings
SENDER = "billing@ourapp.example"
TIMEOUT = httpx.Timeout(10.0, connect=3.0)


# what httpx raises when the provider gives no answer at all (a timeout, a refused connection)
NoAnswerError = httpx.RequestError


class EmailProviderError(Exception):
    """The email provider refused or failed a request."""


def email_provider_http() -> httpx.Client:
    """An httpx client for the email provider: its base URL, our API key, our timeouts."""
    return httpx.Client(
        base_url=EMAIL_PROVIDER_URL,
        headers={"Authorization": f"Bearer {os.environ.get('MAILER_API_KEY', '')}"},
        timeout=TIMEOUT,
    )
