"""The fixtures the harness gives every grader, so that no grader writes them out again.

* `kata`: the kata whose grader asks (`kata.slug`, `kata.files`, …): no grader spells its own slug.
* `committed`: a block whose `transaction.on_commit()` callbacks run at its end, as after a commit.
* `emails`: a stand-in email provider (`dojo.fakes.FakeEmailClient`) that records what was sent.
"""

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import pytest

from dojo.fakes import FakeEmailClient
from dojo.manifest import Kata
from dojo.plugin.collection import kata_of


@pytest.fixture
def kata(request: pytest.FixtureRequest) -> Kata:
    """The kata of the grader this check belongs to."""
    found = kata_of(request.node)
    if found is None:
        pytest.fail(f"{request.node.nodeid} is not in a kata's grader: the `kata` fixture is for graders/<slug>/")
    return found


@pytest.fixture
def committed(django_capture_on_commit_callbacks: Any) -> Callable[[], AbstractContextManager[object]]:
    """A block whose `transaction.on_commit()` callbacks run at its end, as after a real commit.

    pytest-django wraps each check in a transaction that never commits; without this, an email sent
    with `on_commit()`, as DATA-3 and DATA-5 recommend, would never arrive. A grader's own
    `committed` fixture, in its conftest, takes precedence.
    """
    capture: Callable[..., AbstractContextManager[object]] = django_capture_on_commit_callbacks
    return lambda: capture(execute=True)


@pytest.fixture
def emails() -> FakeEmailClient:
    """A stand-in email provider, new for each check: what the kata's code sent, and when."""
    return FakeEmailClient()
