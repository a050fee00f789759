import pytest

from .fakes import FakeEmailClient


@pytest.fixture
def emails() -> FakeEmailClient:
    return FakeEmailClient()
