"""Workers racing through the same code, with the worst interleaving forced, not hoped for.

A grader cannot rely on timing to show a race: two threads that start together usually run one after
the other. `race()` holds the first worker right before its first write, when every check it makes has
been made, until the second worker has finished or is waiting for a lock that the first holds. A
check-then-insert then always lets both workers through, and a correct fix (a row lock, a unique
constraint) always serialises them, without deadlocking the race itself.
"""

import importlib.util
import itertools
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import ModuleType

from django.db import connection

WAIT_SECONDS = 5.0
_WRITE = re.compile(r"^\s*(INSERT|UPDATE|DELETE)\b", re.IGNORECASE)
_workers = itertools.count(1)


@dataclass
class RaceResult:
    """What each worker raised (None when it returned), and how the race went."""

    errors: list[BaseException | None] = field(default_factory=lambda: [None, None])
    # "the second finished", "the second waits for a lock", or "no write to hold"
    interleaving: str = "no write to hold"

    def failures(self) -> list[str]:
        return [f"{type(error).__name__}: {str(error).strip()[:200]}" for error in self.errors if error is not None]


class _Gate:
    """Signals of one worker: it reached the statement to hold at; it may go on."""

    def __init__(self, hold: bool, at: re.Pattern[str]) -> None:
        self.hold = hold
        self.at = at
        self.at_write = threading.Event()
        self.release = threading.Event()
        self.done = threading.Event()
        self.backend_pid: int | None = None
        self.started = threading.Event()

    # Django's execute-wrapper protocol: untyped parameters and results, passed through as they are
    def wrapper(
        self, execute: Callable[..., object], sql: str, params: object, many: bool, context: dict[str, object]
    ) -> object:
        if self.at.search(sql) and not self.at_write.is_set():
            self.at_write.set()
            if self.hold:
                self.release.wait(WAIT_SECONDS)
        return execute(sql, params, many, context)


def _waits_for_lock(pid: int | None) -> bool:
    if pid is None:
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [pid])
        row = cursor.fetchone()
    return row is not None and row[0] == "Lock"


def race(first: Callable[[], object], second: Callable[[], object], *, hold_at: re.Pattern[str] = _WRITE) -> RaceResult:
    """Run `first` and `second` in two threads, each on its own connection, interleaved as described above.

    The first worker is held before its first INSERT, UPDATE or DELETE (or the first statement that
    `hold_at` finds, e.g. the first write to one table); the second then runs until it
    finishes, or until PostgreSQL reports it waiting for a lock (`pg_stat_activity`), which only the
    first can hold; then the first goes on.

    Needs PostgreSQL and `django_db(transaction=True)` (each worker commits for the other to see).
    """
    result = RaceResult()
    gates = (_Gate(hold=True, at=hold_at), _Gate(hold=False, at=hold_at))

    def run(index: int, work: Callable[[], object]) -> None:
        gate = gates[index]
        try:
            connection.ensure_connection()
            gate.backend_pid = connection.connection.info.backend_pid
            gate.started.set()
            with connection.execute_wrapper(gate.wrapper):
                work()
        except BaseException as error:  # reported to the grader, which says what it means
            result.errors[index] = error
        finally:
            gate.started.set()
            gate.at_write.set()
            gate.done.set()
            connection.close()

    threads = [threading.Thread(target=run, args=(index, work)) for index, work in enumerate((first, second))]
    threads[0].start()
    held = gates[0].at_write.wait(WAIT_SECONDS) and not gates[0].done.is_set()
    threads[1].start()
    if held:
        deadline = time.monotonic() + WAIT_SECONDS
        gates[1].started.wait(WAIT_SECONDS)
        while time.monotonic() < deadline:
            if gates[1].done.is_set():
                result.interleaving = "the second finished"
                break
            if _waits_for_lock(gates[1].backend_pid):
                result.interleaving = "the second waits for a lock"
                break
            time.sleep(0.005)
    gates[0].release.set()
    for thread in threads:
        thread.join(WAIT_SECONDS * 2)
    return result


def another_worker(module: str) -> ModuleType:
    """`module` loaded anew, as by another worker process: nothing the code keeps in memory is shared.

    Each call gives a separate module object (a reload would reuse one), registered under a name of
    its own; relative imports and the models resolve as they do for the module itself.
    """
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError(module)
    name = f"{module}_worker_{next(_workers)}"
    copy = importlib.util.spec_from_file_location(name, spec.origin)
    if copy is None or copy.loader is None:
        raise ModuleNotFoundError(module)
    loaded = importlib.util.module_from_spec(copy)
    sys.modules[name] = loaded  # as an import does: dataclasses look their module up there
    copy.loader.exec_module(loaded)
    return loaded


_LOCK_FEATURES = (
    "has_select_for_update",
    "has_select_for_update_nowait",
    "has_select_for_update_skip_locked",
    "has_select_for_update_of",
    "has_select_for_no_key_update",
)
_FOR_UPDATE = re.compile(r"\s+FOR (NO KEY )?UPDATE\b.*\Z", re.DOTALL)


@dataclass
class Meanwhile:
    """Where `meanwhile()` ran the other worker: "" when it did not run."""

    when: str = ""


@contextmanager
def meanwhile(other: Callable[[], object]) -> Iterator[Meanwhile]:
    """Run `other` once, on the same connection, at the last moment a real database lets it commit
    in the middle of the code in the block: just before the code's first row lock, or, if it locks
    nothing, just before its first write.

    On one connection, this shows on SQLite too what a concurrent worker does on PostgreSQL: code
    that reads, decides and writes without a lock writes over what `other` wrote. SQLite has no row
    locks, so Django is told to write FOR UPDATE anyway (that is how the lock is seen), and the clause
    is removed before the statement runs.
    """
    record = Meanwhile()
    emulate = not connection.features.has_select_for_update
    saved = {feature: getattr(connection.features, feature) for feature in _LOCK_FEATURES}
    running = threading.local()

    def wrapper(
        execute: Callable[..., object], sql: str, params: object, many: bool, context: dict[str, object]
    ) -> object:
        locks = _FOR_UPDATE.search(sql) is not None
        if not getattr(running, "other", False) and not record.when and (locks or _WRITE.match(sql)):
            record.when = "just before your code locked a row" if locks else "just before your code's first write"
            running.other = True
            try:
                other()
            finally:
                running.other = False
        if locks and emulate:
            sql = _FOR_UPDATE.sub("", sql)
        return execute(sql, params, many, context)

    if emulate:
        for feature in _LOCK_FEATURES:
            setattr(connection.features, feature, True)
    try:
        with connection.execute_wrapper(wrapper):
            yield record
    finally:
        for feature, value in saved.items():
            setattr(connection.features, feature, value)
