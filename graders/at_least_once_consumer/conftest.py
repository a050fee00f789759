import logging
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any, cast

import pytest
from django.db import connection, transaction

from .fakes import FakeQueue

logger = logging.getLogger(__name__)


@pytest.fixture
def queue() -> FakeQueue:
    return FakeQueue()


@pytest.fixture
def committed(monkeypatch: pytest.MonkeyPatch) -> Callable[[], AbstractContextManager[object]]:
    """A block in which each commit runs its `transaction.on_commit()` callbacks, at that commit.

    pytest-django wraps each check in a transaction that never commits, so the code's outermost
    `atomic()` block only releases a savepoint. Here, leaving such a block (the code's own, or a
    caller's opened inside this one) is the commit it stands for: the callbacks it registered run
    then, before the code goes on, as they would in a worker; a callback registered outside any
    block runs at once, as Django runs it in autocommit. A block that rolls back drops its callbacks.
    """

    @contextmanager
    def block() -> Iterator[object]:
        depth = len(connection.atomic_blocks)  # the blocks around this one: none of them is a commit
        start = len(connection.run_on_commit)

        def run_pending() -> None:
            pending = connection.run_on_commit[start:]
            del connection.run_on_commit[start:]
            for _, callback, robust in cast(list[tuple[set[str], Callable[[], object], bool]], pending):
                if not robust:
                    callback()
                    continue
                try:
                    callback()
                except Exception:  # as Django does for a robust callback: logged, and the others run
                    logger.exception("Error calling %s in on_commit()", callback)

        exit_atomic = transaction.Atomic.__exit__
        register = connection.on_commit

        def exit_and_commit(self: transaction.Atomic, *exc_info: Any) -> None:
            exit_atomic(self, *exc_info)
            if len(connection.atomic_blocks) == depth and exc_info[0] is None:
                run_pending()

        def on_commit(func: Callable[[], object], robust: bool = False) -> None:
            register(func, robust)
            if len(connection.atomic_blocks) == depth:
                run_pending()

        with monkeypatch.context() as patches:
            patches.setattr(transaction.Atomic, "__exit__", exit_and_commit)
            patches.setattr(connection, "on_commit", on_commit)
            try:
                yield None
            except BaseException:
                del connection.run_on_commit[start:]  # a worker that died runs nothing more
                raise
            run_pending()

    return block
