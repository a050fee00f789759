import os
from collections.abc import Iterator

import httpx
import pytest
import respx

from .fakes import FakeEmailClient

#: the API key the real email client reads from the environment, set before the grader imports any kata module:
#: the provider's requests are compared with the reference's, their Authorization header included, and no key of
#: the learner's own shell ever shows in a message
GRADER_API_KEY = "grader-mailer-key"
os.environ["MAILER_API_KEY"] = GRADER_API_KEY


@pytest.fixture
def emails() -> FakeEmailClient:
    """A stub of the email provider, for the service's tests."""
    return FakeEmailClient()


@pytest.fixture
def no_network() -> Iterator[respx.MockRouter]:
    """Any HTTP request is recorded and fails: a service test with a stub client needs none."""
    with respx.mock(assert_all_called=False) as router:
        router.route().mock(side_effect=httpx.ConnectError("the grader allows no network in this test"))
        yield router


@pytest.fixture
def email_provider() -> Iterator[respx.MockRouter]:
    """The email provider's API, mocked: a request the test did not set up fails."""
    with respx.mock(base_url="https://api.mailer.example", assert_all_called=False) as router:
        yield router
