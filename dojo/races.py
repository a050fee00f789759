"""Two workers racing through the same code on PostgreSQL, with the worst interleaving forced, not hoped for.

A grader cannot rely on timing to show a race: two threads that start together usually run one after
the other. `race()` holds the first worker right before its first write, when every check it makes has
been made, until the second worker has finished or is waiting for a lock that the first holds. A
check-then-insert then always lets both workers through, and a correct fix (a row lock, a unique
constraint) always serialises them, without deadlocking the race itself.
"""

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import connection

WAIT_SECONDS = 5.0
_WRITE = re.compile(r"^\s*(INSERT|UPDATE|DELETE)\b", re.IGNORECASE)


@dataclass
class RaceResult:
    """What each worker raised (None when it returned), and how the race went."""

    errors: list[BaseException | None] = field(default_factory=lambda: [None, None])
    # "the second finished", "the second waits for a lock", or "no write to hold"
    interleaving: str = "no write to hold"

    def failures(self) -> list[str]:
        return [f"{type(error).__name__}: {str(error).strip()[:200]}" for error in self.errors if error is not None]


class _Gate:
    """Signals of one worker: it reached its first write; it may go on."""

    def __init__(self, hold: bool) -> None:
        self.hold = hold
        self.at_write = threading.Event()
        self.release = threading.Event()
        self.done = threading.Event()
        self.backend_pid: int | None = None
        self.started = threading.Event()

    # Django's execute-wrapper protocol: untyped parameters and results, passed through as they are
    def wrapper(
        self, execute: Callable[..., object], sql: str, params: object, many: bool, context: dict[str, object]
    ) -> object:
        if _WRITE.match(sql) and not self.at_write.is_set():
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


def race(first: Callable[[], object], second: Callable[[], object]) -> RaceResult:
    """Run `first` and `second` in two threads, each on its own connection, interleaved as described above.

    The first worker is held before its first INSERT, UPDATE or DELETE; the second then runs until it
    finishes, or until PostgreSQL reports it waiting for a lock (`pg_stat_activity`), which only the
    first can hold; then the first goes on.

    Needs PostgreSQL and `django_db(transaction=True)` (each worker commits for the other to see).
    """
    result = RaceResult()
    gates = (_Gate(hold=True), _Gate(hold=False))

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
