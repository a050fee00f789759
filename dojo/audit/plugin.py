"""A pytest plugin that `dojo audit --tests` brings into the project's own test run, from outside its tree.

It imports nothing of the dojo: the audit copies it to a temporary folder on PYTHONPATH, next to a
link to django-zeal, and runs the project's pytest with `-p dojo_audit_plugin`. It records, as JSON
lines in the file named by DOJO_AUDIT_EVENTS:
- N+1 queries (django-zeal), each scoped to one request or one call of a service function, not to a
  test: a test that calls a service twice is not an N+1;
- outbound calls (httpx, requests, smtplib, Django's mail, botocore) and task queueing (Celery) made
  while a transaction block opened by the code is open. Django marks the blocks its TestCase opens
  with `_from_testcase` (a private attribute, present in Django 4.2 to 6.1): those do not count;
- skipped tests and their reasons;
- how the run went: tests passed, failed, errored at set-up, and modules that did not collect (a rule
  whose evidence did not run is "not judged", never a 0);
- under the audit's network sandbox (DOJO_AUDIT_NETWORK_CUT), a test database reached over TCP: the run
  stops before any test, and the audit runs the tests again with the network, saying so.
"""
# ruff: noqa: ANN401 - the project's objects are untyped here, in another interpreter

from __future__ import annotations

import contextvars
import functools
import inspect
import json
import os
import sys
import warnings
from importlib import import_module
from typing import Any

ROOT = os.path.realpath(os.environ.get("DOJO_AUDIT_ROOT", os.getcwd()))
EVENTS = os.environ.get("DOJO_AUDIT_EVENTS", "")
_scope: contextvars.ContextVar[bool] = contextvars.ContextVar("dojo_audit_scope", default=False)
_reported: set[tuple[str, ...]] = set()
_outcome: dict[str, Any] = {"passed": 0, "failed": 0, "errors": 0, "collection_errors": 0, "first_error": ""}


def _record(kind: str, **fields: Any) -> None:
    key = (kind, str(fields.get("file")), str(fields.get("line")), str(fields.get("what")))
    if not EVENTS or key in _reported:
        return
    _reported.add(key)
    with open(EVENTS, "a", encoding="utf-8") as handle:
        handle.write(json.dumps({"kind": kind, **fields}) + "\n")


def _is_test_file(path: str) -> bool:
    name = os.path.basename(path)
    parts = path.split(os.sep)
    return name.startswith("test") or name == "conftest.py" or "tests" in parts


def _code_frame() -> tuple[str, int]:
    """The innermost frame of the project's own code (not its tests, not a library)."""
    frame: Any = sys._getframe(2)
    fallback = ("", 0)
    while frame is not None:
        if frame.f_code.co_filename.startswith("<"):  # frozen modules, exec'd code
            frame = frame.f_back
            continue
        path = os.path.realpath(frame.f_code.co_filename)
        if path.startswith(ROOT + os.sep) and "site-packages" not in path and __file__ != frame.f_code.co_filename:
            if not _is_test_file(path):
                return path, frame.f_lineno
            if not fallback[0]:
                fallback = (path, frame.f_lineno)
        frame = frame.f_back
    return fallback


def _code_transaction() -> bool | None:
    """True when a transaction block of the code (not of the test case) is open; None when unknowable."""
    from django.db import connections

    for alias in connections:
        connection = connections[alias]
        blocks = getattr(connection, "atomic_blocks", None)
        if blocks is None:
            return None
        if any(not getattr(block, "_from_testcase", False) for block in blocks):
            return True
    return False


def _guard(owner: Any, name: str, what: str, kind: str) -> None:
    original = getattr(owner, name, None)
    if original is None or getattr(original, "_dojo_audit", False):
        return

    @functools.wraps(original)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if _code_transaction():
            path, line = _code_frame()
            _record(kind, file=path, line=line, what=what)
        return original(*args, **kwargs)

    guarded._dojo_audit = True  # type: ignore[attr-defined]
    setattr(owner, name, guarded)


def _guard_external_calls() -> None:
    targets = [
        ("httpx", "Client", "send", "httpx"),
        ("httpx", "AsyncClient", "send", "httpx"),
        ("requests.sessions", "Session", "send", "requests"),
        ("smtplib", "SMTP", "sendmail", "smtplib"),
        ("django.core.mail.message", "EmailMessage", "send", "Django's mail"),
        ("botocore.client", "BaseClient", "_make_api_call", "botocore"),
    ]
    for module_name, owner, name, what in targets:
        try:
            _guard(getattr(import_module(module_name), owner), name, what, "external-call")
        except (ImportError, AttributeError):
            continue
    try:
        from celery.app.task import Task  # type: ignore[import-not-found]

        _guard(Task, "apply_async", "a Celery task", "publish")
    except ImportError:
        pass


def _in_zeal_scope(function: Any) -> Any:
    from zeal import zeal_context  # type: ignore[import-untyped]

    @functools.wraps(function)
    def scoped(*args: Any, **kwargs: Any) -> Any:
        if _scope.get():
            return function(*args, **kwargs)
        token = _scope.set(True)
        try:
            with zeal_context(), warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="N\\+1 detected", category=UserWarning)
                return function(*args, **kwargs)
        finally:
            _scope.reset(token)

    scoped._dojo_audit = True  # type: ignore[attr-defined]
    return scoped


def _on_n_plus_one(sender: Any, exception: Exception, **kwargs: Any) -> None:
    """Record an N+1 where the project's code made it; one that a library makes for a test is not the code's."""
    zeal_dir = os.path.dirname(sys.modules[type(sender).__module__].__file__ or "")
    frame: Any = sys._getframe(1)
    found: list[tuple[str, int]] = []
    while frame is not None:
        name = frame.f_code.co_filename
        if name.startswith("<") or name == __file__ or name.startswith(zeal_dir) or "site-packages" in name:
            frame = frame.f_back
            continue
        real = os.path.realpath(name)
        if real.startswith(ROOT + os.sep) and not _is_test_file(real):
            found.append((real, frame.f_lineno))
        frame = frame.f_back
    # the code that made the query, not a middleware of the project's around it (a template rendered
    # on the way out runs under the middleware, not under the view)
    chosen = next((place for place in found if "middleware" not in os.path.basename(place[0])), None)
    if chosen or found:
        path, line = chosen or found[0]
        _record("n-plus-one", file=path, line=line, what=str(exception))


def _scope_n_plus_one() -> None:
    try:
        from django.apps import apps
        from django.conf import settings
        from django.core.handlers.base import BaseHandler
        from zeal.constants import initialize_app_registry  # type: ignore[import-untyped]
        from zeal.patch import patch  # type: ignore[import-untyped]
        from zeal.signals import nplusone_detected  # type: ignore[import-untyped]

        initialize_app_registry()
        patch()
    except Exception as error:  # zeal needs Django's contenttypes app, for one
        _record("problem", what=f"N+1 detection is off: {type(error).__name__}: {error}")
        return
    settings.ZEAL_RAISE = False
    nplusone_detected.connect(_on_n_plus_one, weak=False)
    BaseHandler.get_response = _in_zeal_scope(BaseHandler.get_response)  # type: ignore[method-assign]
    for app in apps.get_app_configs():
        if not os.path.realpath(app.path).startswith(ROOT + os.sep):
            continue
        for module in _service_modules(app.name):
            for name, value in list(vars(module).items()):
                if name.startswith("_") or getattr(value, "__module__", "") != module.__name__:
                    continue
                if isinstance(value, type):  # a service class: each public method is one service call
                    for attribute, method in list(vars(value).items()):
                        if attribute.startswith("_"):
                            continue
                        if isinstance(method, staticmethod | classmethod):
                            setattr(value, attribute, type(method)(_in_zeal_scope(method.__func__)))
                        elif inspect.isfunction(method):
                            setattr(value, attribute, _in_zeal_scope(method))
                elif callable(value):
                    setattr(module, name, _in_zeal_scope(value))


def _service_modules(app: str) -> list[Any]:
    """`app.services`, and when it is a package, its modules (`app.services.billing`, …)."""
    import pkgutil

    try:
        package = import_module(f"{app}.services")
    except ImportError:
        return []
    found = [package]
    for info in pkgutil.iter_modules(getattr(package, "__path__", None) or []):
        try:
            found.append(import_module(f"{package.__name__}.{info.name}"))
        except ImportError:
            continue
    return found


def pytest_sessionstart(session: Any) -> None:
    _record("started", what="the plugin is loaded")


def pytest_collection(session: Any) -> None:
    """After pytest-django has set Django up, before the test modules import the project's services."""
    try:
        import django.apps

        if not django.apps.apps.ready:
            _record("problem", what="Django was not set up by pytest-django: runtime checks are off")
            return
    except ImportError:
        _record("problem", what="Django is not importable: runtime checks are off")
        return
    if os.environ.get("DOJO_AUDIT_NETWORK_CUT") == "1":
        reached = _databases_over_tcp()
        if reached:
            import pytest

            _record("network-needed", what="; ".join(reached))
            pytest.exit("the test database is reached over the network", returncode=3)
    from django.db import connection

    if not hasattr(connection, "atomic_blocks"):
        _record("problem", what="this Django does not list its atomic blocks: transaction checks are off")
    _guard_external_calls()
    _scope_n_plus_one()


def _databases_over_tcp() -> list[str]:
    """The test settings' databases that a process without a network cannot reach (a TCP host)."""
    from django.conf import settings

    reached = []
    for alias, database in settings.DATABASES.items():
        engine = str(database.get("ENGINE", "")).rsplit(".", 1)[-1]
        host = str(database.get("HOST") or "")
        if engine != "sqlite3" and host and not host.startswith("/"):
            reached.append(f"{alias}: {engine} at {host}:{database.get('PORT') or 'its default port'}")
    return reached


def pytest_collectreport(report: Any) -> None:
    if report.failed:
        _outcome["collection_errors"] += 1
        _outcome["first_error"] = _outcome["first_error"] or f"{report.nodeid}: {_last_line(report)}"


def _last_line(report: Any) -> str:
    lines = [line for line in str(report.longrepr).splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("E ")]
    return (errors or lines or [""])[-1].removeprefix("E ").strip()[:300]


def pytest_sessionfinish(session: Any, exitstatus: Any) -> None:
    _record("outcome", what="the run", exit_status=int(exitstatus), **_outcome)


def pytest_runtest_logreport(report: Any) -> None:
    if report.when == "call" and report.passed:
        _outcome["passed"] += 1
    elif report.failed and report.when == "call":
        _outcome["failed"] += 1
    elif report.failed:  # set-up or teardown: the test's evidence did not run
        _outcome["errors"] += 1
        _outcome["first_error"] = _outcome["first_error"] or f"{report.nodeid}: {_last_line(report)}"
    if report.skipped and not hasattr(report, "wasxfail"):
        path, line, reason = report.location[0], report.location[1], ""
        if isinstance(report.longrepr, tuple) and len(report.longrepr) == 3:
            path, line, reason = report.longrepr
            line = int(line) - 1
        _record(
            "skipped",
            file=os.path.realpath(str(path)),
            line=(line or 0) + 1,
            what=report.nodeid,
            reason=str(reason).removeprefix("Skipped: "),
        )
