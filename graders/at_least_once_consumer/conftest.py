import pytest

from .fakes import FakeQueue


@pytest.fixture
def queue() -> FakeQueue:
    return FakeQueue()
