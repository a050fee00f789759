"""Helpers for graders: count queries, see transactions, and say clearly what went wrong."""

import re
import tokenize
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from unittest.mock import patch

from django.db import DEFAULT_DB_ALIAS, DataError, connections
from django.db.models import Model, QuerySet
from django.db.models.signals import post_save

from dojo import config, paths

_TRANSACTION_CONTROL = re.compile(r"^\s*(SAVEPOINT|RELEASE SAVEPOINT|ROLLBACK TO SAVEPOINT)\b", re.IGNORECASE)
_LITERALS = re.compile(r"'(?:[^']|'')*'|\b\d+\b")
_COLUMNS = re.compile(r"^SELECT .+? FROM ", re.IGNORECASE | re.DOTALL)


def _short(statement: str, width: int = 160) -> str:
    """A statement as a learner wants to read it: no column list, one line, not too long."""
    short = _COLUMNS.sub("SELECT … FROM ", " ".join(statement.split()))
    return short if len(short) <= width else short[: width - 1] + "…"


def kata_dir(slug: str) -> Path:
    """The folder of `slug` in the tree being graded (`katas/`, `solutions/` or `--kata-root DIR`)."""
    return config.kata_root() / slug


def read_source(path: Path) -> str:
    """A Python file's text, decoded the way Python decodes it (a UTF-8 BOM or a coding line is fine)."""
    with tokenize.open(path) as handle:
        return handle.read()


def shown(path: Path) -> str:
    """A path as a learner finds it: relative to the repository where possible (`dojo.paths.shown`)."""
    return paths.shown(path)


def _kata_file_names(root: Path) -> set[str]:
    """The files of a kata folder, relative to it, bytecode left out."""
    return {
        path.relative_to(root).as_posix()
        for path in root.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }


def unexpected_edits(slug: str, files: tuple[str, ...]) -> list[str]:
    """The files of `slug` outside `files` that differ from the kata as shipped, in the graded tree.

    The shipped context files are read from `solutions/<slug>/`: the integrity tests prove that a
    solution differs from its starter only in the files to edit, so this needs no git. A new file (a
    helper module of the learner's) is allowed and not listed; a shipped file that is missing is.
    """
    graded, shipped = kata_dir(slug), paths.SOLUTIONS / slug
    editable = {Path(name).as_posix() for name in files}
    present = _kata_file_names(graded)
    return sorted(
        name
        for name in _kata_file_names(shipped) - editable
        if name not in present or (graded / name).read_bytes() != (shipped / name).read_bytes()
    )


def check(condition: object, message: str) -> None:
    """Fail the grader test with `message` alone: the words for the learner, no assertion dump."""
    __tracebackhide__ = True
    if not condition:
        raise AssertionError(message)


@dataclass
class QueryLog:
    """The SQL statements run inside `count_queries()`, savepoint bookkeeping left out."""

    statements: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.statements)

    def most_repeated(self) -> tuple[str, int]:
        """The statement shape (literals replaced by `?`) that ran most often, and how often."""
        if not self.statements:
            return "", 0
        shapes = Counter(_LITERALS.sub("?", statement) for statement in self.statements)
        return shapes.most_common(1)[0]

    def describe(self, limit: int = 5) -> str:
        """A few lines a learner can read: the count, the most repeated query, the first statements."""
        shape, times = self.most_repeated()
        lines = [f"{self.count} queries ran."]
        if times > 1:
            lines.append(f"This one ran {times} times: {_short(shape)}")
        lines += [f"  {index}. {_short(sql)}" for index, sql in enumerate(self.statements[:limit], 1)]
        if self.count > limit:
            lines.append(f"  ... and {self.count - limit} more")
        return "\n".join(lines)


@contextmanager
def count_queries(using: str = DEFAULT_DB_ALIAS) -> Iterator[QueryLog]:
    """Record the queries run in the block; SAVEPOINT and RELEASE statements are not counted.

    The grader installs its own execute wrapper, so learner code that clears `connection.queries_log`
    or turns off `force_debug_cursor` cannot hide a query from the count.
    """
    log = QueryLog()
    connection = connections[using]

    # Django's execute-wrapper protocol: untyped parameters and results, passed through as they are
    def record(
        execute: Callable[..., object], sql: str, params: object, many: bool, context: dict[str, object]
    ) -> object:
        try:
            return execute(sql, params, many, context)
        finally:
            if not _TRANSACTION_CONTROL.match(sql):
                # the statement with its parameters filled in, as the database ran it
                log.statements.append(str(connection.ops.last_executed_query(context["cursor"], sql, params)))

    with connection.execute_wrapper(record):
        yield log


@contextmanager
def small_iterator_batches(rows: int = 4) -> Iterator[None]:
    """`QuerySet.iterator(chunk_size=N)` fetches at most `rows` rows per batch in the block.

    Code that runs a query per batch (`iterator(chunk_size=2000)` after `prefetch_related()`) shows it on
    a handful of rows instead of on thousands; code that queries once runs the same queries as ever.
    """
    original = QuerySet.iterator

    def iterator(self: QuerySet[Model], chunk_size: int | None = None) -> Iterator[Model]:
        # no chunk_size: Django's own default, and its own refusal after prefetch_related()
        return original(self) if chunk_size is None else original(self, chunk_size=min(chunk_size, rows))

    with patch.object(QuerySet, "iterator", iterator):
        yield


def in_application_transaction(using: str = DEFAULT_DB_ALIAS) -> bool:
    """True inside an `atomic()` block opened by application code.

    pytest-django wraps each database test in atomic blocks of its own; those are marked by Django
    as coming from the test case and are not counted here.
    """
    connection = connections[using]
    return any(not getattr(block, "_from_testcase", False) for block in connection.atomic_blocks)


@contextmanager
def fails_once_when_saved(model: type[Model], error: Exception) -> Iterator[None]:
    """The next time a `model` row is saved, `error` is raised right after the write, once.

    This is how graders make a database fail half-way through a service: whatever was written in the
    same transaction before and with this row must then be rolled back.
    """
    failures = [error]
    uid = f"dojo-fails-once-{model._meta.label}"

    def fail(**kwargs: object) -> None:
        if failures:
            raise failures.pop()

    post_save.connect(fail, sender=model, weak=False, dispatch_uid=uid)
    try:
        yield
    finally:
        post_save.disconnect(sender=model, dispatch_uid=uid)


#: what PostgreSQL's driver says of a text parameter that holds a NUL character, before sending the statement
NUL_REFUSED = "PostgreSQL text fields cannot contain NUL (0x00) bytes"


def _holds_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(item) for item in value.values())
    if isinstance(value, list | tuple):
        return any(_holds_nul(item) for item in value)
    return False


@contextmanager
def nul_refused_as_on_postgresql(using: str = DEFAULT_DB_ALIAS) -> Iterator[None]:
    """Text that holds a NUL character reaches no database: SQLite refuses it as PostgreSQL does.

    PostgreSQL cannot hold a NUL in text, and its driver raises DataError before it sends a statement
    with such a parameter; SQLite stores and compares it. Inside this block a statement whose parameters
    hold one raises that DataError on SQLite too, so that a grading on SQLite (and in the browser) gives
    the verdict of PostgreSQL, where input with a NUL that reaches a query is a 500.
    """
    connection = connections[using]
    if connection.vendor == "postgresql":  # its driver refuses it itself
        yield
        return

    def refuse(execute: Callable[..., object], sql: str, params: object, many: bool, context: object) -> object:
        if _holds_nul(params):
            raise DataError(NUL_REFUSED)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(refuse):
        yield


class WorkerKilled(BaseException):  # not an error of the code: its process is ended from outside
    """The worker is killed half-way (a worker timeout, a deploy, the out-of-memory killer): no `except Exception`
    sees it, and the dead process runs no further query."""


#: what the database does on its own for a worker that died: it rolls back the open transaction
_TRANSACTION_END = re.compile(r"^\s*(SAVEPOINT|ROLLBACK|RELEASE)\b", re.IGNORECASE)


@dataclass
class WorkerKill:
    """An execute wrapper: when `armed`, the worker is killed just before its first UPDATE of `model`'s table.

    What it committed before stays committed, its open transaction is rolled back, and it sends no further
    query (`dead`): an `except` (or `finally`) that would undo an earlier commit never reaches the database.
    `before` names the moment in the message, as the grader's contract words it ("the invoice's write").
    """

    model: type[Model]
    before: str
    armed: bool = True
    dead: bool = False

    def _first_update(self, sql: str) -> bool:
        return re.match(rf'^\s*UPDATE\s+"?{re.escape(self.model._meta.db_table)}"?\s', sql, re.IGNORECASE) is not None

    # Django's execute-wrapper protocol: untyped parameters and results, passed through as they are
    def __call__(
        self, execute: Callable[..., object], sql: str, params: object, many: bool, context: dict[str, object]
    ) -> object:
        if self.dead and not _TRANSACTION_END.match(sql):
            raise WorkerKilled("the worker was killed: a dead process sends no query")
        if self.armed and self._first_update(sql):
            self.armed, self.dead = False, True
            raise WorkerKilled(f"the worker was killed (a worker timeout) just before {self.before}")
        return execute(sql, params, many, context)

    def spares(self, other_request: Callable[[], None]) -> Callable[[], None]:
        """`other_request` runs in another process, which this kill does not touch."""

        def run() -> None:
            armed, self.armed = self.armed, False
            try:
                other_request()
            finally:
                self.armed = armed

        return run


@contextmanager
def worker_killed_at_update(
    model: type[Model], before: str, *, armed: bool = True, using: str = DEFAULT_DB_ALIAS
) -> Iterator[WorkerKill]:
    """The worker is killed just before its first UPDATE of `model`'s table, once (`WorkerKill`).

    Leaving the block revives the connection, as a new worker's would be: the grader reads the database after.
    """
    kill = WorkerKill(model, before, armed=armed)
    with connections[using].execute_wrapper(kill):
        try:
            yield kill
        finally:
            kill.dead = False
