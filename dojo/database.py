"""PostgreSQL as a grading finds it: a server that is down is said once, as such; leftovers are dropped.

With `DATABASE_URL` set, a grading first connects once. A server that cannot be reached makes each graded
kata broken with the connection's own error, instead of every check failing as if the code were wrong.
Every grading process makes a test database named after its process id (`dojo/settings.py`) and drops
it at its end; a process that was stopped or killed cannot, so the next grading drops the test databases
whose process no longer runs. The grading plugin registers these hooks.
"""

import contextlib
import os
import re
from collections.abc import Generator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from dojo import isolation, paths
from dojo.problems import BROKEN

if TYPE_CHECKING:
    import psycopg

CONNECT_TIMEOUT_SECONDS = 5
#: a test database of a grading process: `test_<name>_<pid>` or the project's `test_dojo_<…>_<pid>`
_PROCESS_SUFFIX = re.compile(r"_(?P<pid>\d+)$")

_problem: str | None = None


def _settings() -> dict[str, Any] | None:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        return None
    import dj_database_url

    return dict(dj_database_url.parse(url))


def _connect(settings: dict[str, Any]) -> "psycopg.Connection[tuple[Any, ...]]":
    import psycopg

    return psycopg.connect(
        host=settings.get("HOST") or None,
        port=settings.get("PORT") or None,
        user=settings.get("USER") or None,
        password=settings.get("PASSWORD") or None,
        dbname="postgres",  # where Django creates and drops test databases from, as here
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        autocommit=True,
    )


def unreachable() -> str | None:
    """Why the PostgreSQL server of `DATABASE_URL` cannot be used, or None (or no PostgreSQL at all)."""
    settings = _settings()
    if settings is None:
        return None
    import psycopg

    try:
        _connect(settings).close()
    except psycopg.Error as error:
        where = f"{settings.get('HOST') or 'localhost'}:{settings.get('PORT') or 5432}"
        reason = " ".join(str(error).split()) or type(error).__name__
        return (
            f"PostgreSQL at {where} (DATABASE_URL) could not be reached, so no check ran: {reason}. "
            "Start PostgreSQL (`pg_isready` says when it answers), or unset DATABASE_URL to grade on SQLite."
        )
    return None


def _running(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists() if Path("/proc").is_dir() else True


def leftovers(names: list[str], prefixes: tuple[str, ...]) -> list[str]:
    """The test databases among `names` whose grading process no longer runs on this machine."""
    found = []
    for name in names:
        match = _PROCESS_SUFFIX.search(name)
        if match and name.startswith(prefixes) and not _running(int(match["pid"])):
            found.append(name)
    return found


def drop_leftovers() -> list[str]:
    """Drop the test databases that stopped or killed gradings left on the server; the names dropped."""
    settings = _settings()
    if settings is None:
        return []
    import psycopg
    from psycopg import sql

    prefixes = ("test_dojo_", f"test_{settings.get('NAME') or 'dojo'}_")
    dropped = []
    with contextlib.suppress(psycopg.Error), _connect(settings) as connection:
        names = [row[0] for row in connection.execute("SELECT datname FROM pg_database WHERE datname LIKE 'test\\_%'")]
        for name in leftovers(names, prefixes):
            with contextlib.suppress(psycopg.Error):
                connection.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
                dropped.append(name)
    return dropped


def pytest_sessionstart(session: pytest.Session) -> None:
    global _problem
    if _settings() is None or not _grading(session):
        return
    _problem = unreachable()
    if _problem is None and not isolation.is_child():
        drop_leftovers()


def _grading(session: pytest.Session) -> bool:
    from dojo.plugin.run import RUN  # the run: which katas it grades

    plan = session.config.stash.get(RUN, None)
    return plan is not None and bool(plan.slugs)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_collection(session: pytest.Session) -> Generator[None, object, object]:
    """In a kata's process: with the server down, the kata is one broken item that says so."""
    if _problem is not None and isolation.is_child():
        for arg in session.config.args:
            path = Path(str(arg).split("::", 1)[0]).resolve()
            if path.is_relative_to(paths.GRADERS) and path != paths.GRADERS:
                BROKEN[path.relative_to(paths.GRADERS).parts[0]] = _problem
    return (yield)
