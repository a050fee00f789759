from collections.abc import Callable
from contextlib import AbstractContextManager

import pytest

from .fakes import FakeEmailClient

CaptureCallbacks = Callable[..., AbstractContextManager[list[Callable[[], object]]]]


@pytest.fixture
def emails() -> FakeEmailClient:
    return FakeEmailClient()


@pytest.fixture
def committed(django_capture_on_commit_callbacks: CaptureCallbacks) -> Callable[[], AbstractContextManager[object]]:
    """A block whose `transaction.on_commit()` callbacks run at its end, as after a real commit.

    pytest-django wraps each test in a transaction that never commits; without this, an email sent
    with `on_commit()`, as DATA-3 recommends, would never arrive.
    """
    return lambda: django_capture_on_commit_callbacks(execute=True)
