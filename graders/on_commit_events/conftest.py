import pytest

from .fakes import FakeEventBus


@pytest.fixture
def bus() -> FakeEventBus:
    return FakeEventBus()
