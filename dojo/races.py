"""Workers racing through the same code, with the worst interleaving forced, not hoped for.

A grader cannot rely on timing to show a race: two threads that start together usually run one after
the other. `race()` holds the first worker right before its first write, when every check it makes has
been made, until the second worker has finished or is waiting for a lock that the first holds. A
check-then-insert then always lets both workers through, and a correct fix (a row lock, a unique
constraint) always serialises them, without deadlocking the race itself.
"""

import importlib
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

from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache
from django.db import connection, models

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


#: The modules of a kata that every worker shares, as the processes of one deployment share the
#: database they describe: its models (Django registers a model class once), its app, its migrations.
SHARED = ("models", "apps", "migrations")


def _shared(name: str, package: str, module: ModuleType | None) -> bool:
    parts = name.split(".")
    if parts[0] != package or len(parts) == 1:
        return False
    if parts[1] in SHARED:
        return True
    # a module of its own that defines a model, as models.py may import one from
    return any(
        isinstance(value, type) and issubclass(value, models.Model) and value.__module__ == name
        for value in vars(module or ModuleType(name)).values()
    )


def another_worker(module: str) -> ModuleType:
    """`module` as another worker process loads it: none of the kata's module state is shared.

    Each call loads the kata's package anew, under a name of its own, so that the module and every
    module of the kata that it imports (`from .seen import SEEN`, when loaded or when called) start
    afresh: a set, a dict or a cache kept in any of them is empty for the new worker. Only what the
    processes of one deployment share is shared: the kata's models (and a module that defines a
    model), its app and its migrations, that is, the database. A module the code imports by the
    kata's own name (`from <kata>.seen import SEEN`) is loaded anew for this worker too, and so is
    Django's in-process (local-memory) cache, which no other process would see.
    """
    package, _, inner = module.partition(".")
    base = importlib.import_module(package)
    shared = {name: loaded for name, loaded in list(sys.modules.items()) if _shared(name, package, loaded)}
    for name in [name for name in sys.modules if name.startswith(f"{package}.") and name not in shared]:
        del sys.modules[name]
        attribute = name.rpartition(".")[2]
        if name.count(".") == 1 and isinstance(getattr(base, attribute, None), ModuleType):
            delattr(base, attribute)  # else `from <kata> import seen` would find the old module there
    for cache in caches.all(initialized_only=True):
        if isinstance(cache, LocMemCache):
            cache.clear()

    name = f"{package}_worker_{next(_workers)}"
    spec = importlib.util.spec_from_file_location(
        name, base.__file__, submodule_search_locations=list(getattr(base, "__path__", []))
    )
    if spec is None or spec.loader is None:
        raise ModuleNotFoundError(module)
    worker = importlib.util.module_from_spec(spec)
    sys.modules[name] = worker  # as an import does: relative imports and dataclasses look it up there
    for shared_name, loaded in shared.items():
        sys.modules[name + shared_name.removeprefix(package)] = loaded
        if shared_name.count(".") == 1:
            setattr(worker, shared_name.rpartition(".")[2], loaded)
    spec.loader.exec_module(worker)
    return importlib.import_module(f"{name}.{inner}") if inner else worker


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
    """Where `meanwhile()` ran the other worker ("" when it did not run), and what it raised."""

    when: str = ""
    error: BaseException | None = None


_SAVEPOINT = re.compile(r'^\s*SAVEPOINT\s+"?(\w+)"?', re.IGNORECASE)
_ROLLBACK_TO = re.compile(r'^\s*ROLLBACK\s+TO\s+SAVEPOINT\s+"?(\w+)"?', re.IGNORECASE)


@contextmanager
def meanwhile(other: Callable[[], object], *, at: re.Pattern[str] = _WRITE) -> Iterator[Meanwhile]:
    """Run `other` once, as another worker, and let it commit, at the last moment a real database lets
    it commit in the middle of the code in the block: just before the code's first row lock, or, if
    it locks nothing first, just before its first write (or the first one that `at` finds: writes
    that cannot concern the other worker, such as the record of an event ID of its own, come first).

    The code then goes on with what it read before: code that reads, decides and writes without a
    lock (or without a constraint that refuses the second record) acts on a decision that `other`
    has made stale. `other` runs on a connection of its own, and what it commits is the other
    worker's: the code's own rollbacks (of a savepoint, of its transaction) do not undo it. Until then
    the code holds no lock that `other` could wait for; should it hold one (PostgreSQL reports
    `other` waiting), the code goes on, and `other` finishes once the code has committed.

    This forces the same interleaving on SQLite as on PostgreSQL. SQLite has no row locks, so Django
    is told to write FOR UPDATE anyway (that is how the lock is seen), and the clause is removed
    before the statement runs; the code's reads take no table locks meanwhile (the test database is
    one shared in-memory cache: PRAGMA read_uncommitted), so that `other` can write. SQLite lets one
    connection write at a time: when the code has already written, `other` runs on the code's own
    connection instead, before any savepoint the code opened since its last read (those are opened
    after it, and the callbacks `other` registers with on_commit() belong to none of them). The
    other worker never shares the code's fate, though: should the code then roll back what `other`
    wrote there (its whole transaction, or a savepoint it had opened before `other` ran, e.g. when it
    refuses a duplicate), `other` runs again once the code has finished, on a connection of its own,
    as a real worker's commit outlives another worker's rollback.

    Needs `django_db(transaction=True)`: each worker commits for the other to see.
    """
    if connection.in_atomic_block:
        raise RuntimeError("meanwhile() needs django_db(transaction=True): the other worker must see committed rows")
    record = Meanwhile()
    sqlite = connection.vendor == "sqlite"
    emulate = not connection.features.has_select_for_update
    saved = {feature: getattr(connection.features, feature) for feature in _LOCK_FEATURES}
    done = threading.Event()
    started = threading.Event()
    backend: list[int] = []
    worker: list[threading.Thread] = []
    progress = {"wrote": False, "ran": False, "other": False, "inside": False, "undone": False}
    deferred: list[tuple[str, str]] = []  # savepoints opened since the code's last read: (name, SQL)
    enclosing: set[str] = set()  # the code's savepoints that held what `other` wrote on the code's connection

    def run() -> None:
        try:
            connection.ensure_connection()
            if not sqlite:
                backend.append(connection.connection.info.backend_pid)
            started.set()
            other()
        except BaseException as error:  # reported to the grader, which says what it means
            record.error = error
        finally:
            started.set()
            done.set()
            connection.close()

    def in_a_thread() -> None:
        worker.append(threading.Thread(target=run, daemon=True))
        worker[0].start()
        started.wait(WAIT_SECONDS)
        deadline = time.monotonic() + WAIT_SECONDS
        while not done.wait(0.005) and time.monotonic() < deadline:
            if _waits_for_lock(backend[0] if backend else None):
                record.when += " (it then waited for a lock your code held)"
                break

    def on_this_connection() -> None:
        hidden = {name for name, _ in deferred}
        kept = connection.savepoint_ids
        connection.savepoint_ids = [sid for sid in kept if sid not in hidden]
        enclosing.update(str(sid) for sid in connection.savepoint_ids if sid)
        progress["other"] = progress["inside"] = True
        try:
            other()
        except Exception as error:  # reported to the grader, which says what it means
            record.error = error
        finally:
            progress["other"] = False
            connection.savepoint_ids = kept

    def open_deferred() -> None:
        while deferred:
            connection.connection.execute(deferred.pop(0)[1])

    def wrapper(
        execute: Callable[..., object], sql: str, params: object, many: bool, context: dict[str, object]
    ) -> object:
        locks = _FOR_UPDATE.search(sql) is not None
        if locks and emulate:
            sql = _FOR_UPDATE.sub("", sql)
        undo = _ROLLBACK_TO.match(sql)
        if undo and progress["inside"] and not progress["other"] and undo.group(1) in enclosing:
            progress["undone"] = True  # the code rolled back what the other worker had written
        if progress["ran"] or progress["other"]:
            return execute(sql, params, many, context)
        savepoint = _SAVEPOINT.match(sql)
        if sqlite and progress["wrote"] and savepoint:
            deferred.append((savepoint.group(1), sql))  # opened once the next statement is known
            return None
        if locks or at.match(sql):
            progress["ran"] = True
            record.when = "just before your code locked a row" if locks else "just before your code wrote"
            if sqlite and progress["wrote"]:
                on_this_connection()
            else:
                in_a_thread()
        open_deferred()
        progress["wrote"] = progress["wrote"] or _WRITE.match(sql) is not None
        return execute(sql, params, many, context)

    def rollback() -> None:
        if progress["inside"] and not progress["other"]:
            progress["undone"] = True  # the code's transaction, which held the other worker's writes
        rolls_back()

    connection.ensure_connection()
    if sqlite:
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA read_uncommitted = 1")
    if emulate:
        for feature in _LOCK_FEATURES:
            setattr(connection.features, feature, True)
    # Django rolls a transaction back through the wrapper's _rollback(), out of the execute wrappers' sight
    rolls_back: Callable[[], None] = getattr(connection, "_rollback")  # noqa: B009 - private to Django's typing
    setattr(connection, "_rollback", rollback)  # noqa: B010 - seen here, then done as Django does it
    try:
        with connection.execute_wrapper(wrapper):
            yield record
    finally:
        delattr(connection, "_rollback")
        for feature, value in saved.items():
            setattr(connection.features, feature, value)
        if worker:
            worker[0].join(WAIT_SECONDS * 2)
        if sqlite:
            with connection.cursor() as cursor:
                cursor.execute("PRAGMA read_uncommitted = 0")
        if progress["undone"]:
            record.when += (
                " (on SQLite it ran inside your transaction, and your code rolled back what it wrote; a real"
                " worker's commit outlives that, so it ran again once your code had finished)"
            )
            record.error = None
            again = threading.Thread(target=run, daemon=True)
            done.clear()
            again.start()
            again.join(WAIT_SECONDS * 2)


#: How a grader runs two workers' work together: `race` or `interleaved` (both give a RaceResult).
Interleave = Callable[[Callable[[], object], Callable[[], object]], RaceResult]


def interleaved(
    ours: Callable[[], object], theirs: Callable[[], object], *, at: re.Pattern[str] = _WRITE
) -> RaceResult:
    """`ours()`, with `theirs()` committed by another worker in its middle, as `meanwhile()` forces it
    (after it, when `ours()` neither locks nor writes): the order in which two concurrent workers can
    always run on PostgreSQL, forced alike on SQLite.

    What each raised is reported in `errors` (ours first), and where `theirs()` ran in `interleaving`.
    """
    result = RaceResult(interleaving="after yours")
    with meanwhile(theirs, at=at) as other:
        try:
            ours()
        except Exception as error:  # reported to the grader, which says what it means
            result.errors[0] = error
    if other.when:
        result.interleaving = other.when
        result.errors[1] = other.error
    else:
        try:
            theirs()
        except Exception as error:  # reported to the grader, which says what it means
            result.errors[1] = error
    return result
