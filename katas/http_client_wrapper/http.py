"""Outbound HTTP for this app's provider clients."""

from collections.abc import Mapping

import httpx


class ProviderError(Exception):
    """A provider refused a request, failed it, or could not be reached."""


def build_http_client(
    base_url: str, *, headers: Mapping[str, str] | None = None, timeout: float | None = None
) -> httpx.Client:
    """An httpx client for one provider; `timeout` is in seconds."""
    return httpx.Client(base_url=base_url, headers=headers, timeout=timeout)
