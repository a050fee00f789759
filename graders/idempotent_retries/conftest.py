from collections.abc import Iterator

import pytest
import respx
import stamina


@pytest.fixture(autouse=True)
def retries_without_waiting() -> Iterator[None]:
    """stamina's test mode: no backoff sleeps, and at most 3 attempts.

    `cap=True` caps a larger setting at 3 but keeps a smaller one: a retry policy that says "one
    attempt" (for a POST without a key, say) is graded as it is written. Checks of the waits
    themselves turn test mode off (see `real_retry_policy`).
    """
    with stamina.set_testing(True, attempts=3, cap=True):
        yield


@pytest.fixture
def provider() -> Iterator[respx.MockRouter]:
    """The payment provider, mocked: a request the test did not set up fails."""
    with respx.mock(base_url="https://api.payments.example", assert_all_called=False) as router:
        yield router
