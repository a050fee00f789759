from collections.abc import Iterator

import pytest
import respx
import stamina


@pytest.fixture(autouse=True)
def retries_without_waiting() -> Iterator[None]:
    """stamina's test mode: no backoff sleeps, and at most 3 attempts.

    `cap=True` caps a larger setting at 3 but keeps a smaller one: a retry policy that says "one
    attempt" (for a POST, say) is graded as it is written.
    """
    with stamina.set_testing(True, attempts=3, cap=True):
        yield


@pytest.fixture
def providers() -> Iterator[respx.MockRouter]:
    """The tax service and the exchange-rate API, mocked: a request the test did not set up fails."""
    with respx.mock(assert_all_called=False) as router:
        yield router
