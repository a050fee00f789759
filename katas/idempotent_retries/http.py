"""Outbound HTTP for this app's provider clients: the one wrapper they all go through.

Every request has a bounded timeout. Transient failures (connection errors, timeouts, 429, 502, 503,
504) are retried with exponential backoff and jitter, for the methods that are safe to send twice.
Anything else is sent exactly once, and its failure goes to the caller.
"""

from collections.abc import Mapping

import httpx
import stamina

TIMEOUT = httpx.Timeout(10.0, connect=3.0)
ATTEMPTS = 4
RETRY_BUDGET_SECONDS = 30.0  # all attempts and waits together: the collection run is a batch job
RETRY_STATUSES = frozenset({429, 502, 503, 504})
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


class ProviderError(Exception):
    """A provider refused a request, failed it, or could not be reached."""


def is_retryable(request: httpx.Request) -> bool:
    """True when sending the request twice cannot do its work twice."""
    return request.method in IDEMPOTENT_METHODS


def is_transient(error: Exception) -> bool:
    """A failure worth another attempt: the provider may well answer the next one."""
    if isinstance(error, httpx.HTTPStatusError):
        return error.response.status_code in RETRY_STATUSES
    return isinstance(error, httpx.TransportError)  # connection errors and timeouts


class ProviderHttp:
    """HTTP to one provider, with our defaults. Provider clients use this, never httpx directly."""

    def __init__(self, provider: str, base_url: str, *, headers: Mapping[str, str] | None = None) -> None:
        self._provider = provider
        self._client = httpx.Client(base_url=base_url, headers=headers, timeout=TIMEOUT)

    def get(self, path: str) -> httpx.Response:
        return self.send(self._client.build_request("GET", path))

    def post(self, path: str, *, json: object, headers: Mapping[str, str] | None = None) -> httpx.Response:
        return self.send(self._client.build_request("POST", path, json=json, headers=headers))

    def send(self, request: httpx.Request) -> httpx.Response:
        """Send the request, retried when that is safe; when it finally fails, raise ProviderError."""
        where = f"{self._provider}: {request.method} {request.url.path}"
        try:
            return self._send_with_retries(request) if is_retryable(request) else self._send_once(request)
        except httpx.HTTPStatusError as error:
            raise ProviderError(
                f"{where} answered {error.response.status_code} {error.response.reason_phrase}"
            ) from error
        except httpx.TransportError as error:
            raise ProviderError(f"{where} failed: {type(error).__name__}: {error}") from error

    def _send_with_retries(self, request: httpx.Request) -> httpx.Response:
        for attempt in stamina.retry_context(on=is_transient, attempts=ATTEMPTS, timeout=RETRY_BUDGET_SECONDS):
            with attempt:
                return self._send_once(request)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _send_once(self, request: httpx.Request) -> httpx.Response:
        response = self._client.send(request)
        response.raise_for_status()
        return response
