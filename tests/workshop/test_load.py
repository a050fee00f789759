"""The load run that `dojo-bench --workshop-only` prints: a small room, to prove that it counts what it says."""

import pytest

from dojo.workshop import load

pytestmark = pytest.mark.heavy  # servers, Chromium (the maintainer group): --heavy runs it


def test_a_small_room_loses_no_post_on_sqlite() -> None:
    run = load.load("SQLite", None, learners=5, seconds=3, every=1.0)

    assert run.sent >= 5
    assert run.failed == []
    assert run.kept == run.sent
    assert run.board_latencies
    assert "lost 0" in "\n".join(run.lines())
