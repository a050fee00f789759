import pytest

from .fakes import FakeEmailClient, FakeQueue


@pytest.fixture
def emails() -> FakeEmailClient:
    return FakeEmailClient()


@pytest.fixture
def queue() -> FakeQueue:
    return FakeQueue()
