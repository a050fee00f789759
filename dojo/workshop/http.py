"""The one way the workshop's code talks HTTP to a board: the same timeouts and limits everywhere.

No retries here: the client's queue is its retry (a grading that was not sent goes with the next one),
and a post is idempotent by its grading id, so sending one twice is harmless.
"""

import httpx

TIMEOUT = httpx.Timeout(10.0, connect=3.0)
HTTPError = httpx.HTTPError
Response = httpx.Response
AsyncClient = httpx.AsyncClient


def client(base_url: str = "", timeout: float | None = None) -> httpx.Client:
    return httpx.Client(base_url=base_url, timeout=timeout or TIMEOUT)


def async_client(base_url: str, connections: int) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=base_url, timeout=30.0, limits=httpx.Limits(max_connections=connections))
