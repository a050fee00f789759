import pytest

from .fakes import FakeEventBus, FakePaymentProvider


@pytest.fixture
def provider() -> FakePaymentProvider:
    return FakePaymentProvider()


@pytest.fixture
def bus() -> FakeEventBus:
    return FakeEventBus()
