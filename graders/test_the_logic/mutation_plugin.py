"""A pytest plugin for the one pytest process the `test_the_logic` grader starts.

Loaded with `-p graders.test_the_logic.mutation_plugin` next to the learner's test file, it runs every
test once against the real `prorate()` ("original"), once against each mutant, and once against the real
function disguised exactly as the mutants are ("disguised": an autouse fixture with one parameter per
variant swaps the function in), then writes each test's outcome per variant as JSON to the file named
by `DOJO_MUTATION_REPORT`.

`DOJO_FROZEN_AT` (an ISO 8601 moment with its offset) freezes the clock at that moment for the whole
process, from before the test file is imported until the report is written: `datetime.now()`,
`date.today()` and `time.time()` all give that moment (time-machine), so the grader can ask whether the
tests pass whenever they run, not only at the moment of the grading.

A mutant is a plain function with the real one's name, docstring, module and signature, so that a test
can only tell it apart by what it returns. A test that can still tell the disguised original from the
real one looks at the function object, not its results; the grader reports such tests, and their
failures on the mutants do not count.
"""

import functools
import importlib
import inspect
import json
import os
import re
from collections.abc import Callable, Generator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import time_machine

from graders.test_the_logic.mutants import MUTANTS

ORIGINAL = "original"
DISGUISED = "disguised"
#: `DOJO_MUTATION_VARIANTS` (comma-separated) runs only those variants, e.g. "original" for a run that only
#: asks whether the tests run at all
VARIANTS = [
    name
    for name in [ORIGINAL, DISGUISED, *MUTANTS]
    if name in os.environ.get("DOJO_MUTATION_VARIANTS", name).split(",")
]
SERVICES = "test_the_logic.services"
_VARIANT_ID = re.compile(r"-?variant=[a-z0-9_]+-?")
_outcomes: dict[tuple[str, str], dict[str, Any]] = {}
_collection_errors: list[str] = []
_collection_skips: list[str] = []
_frozen: list[time_machine.travel] = []  # the clock frozen at DOJO_FROZEN_AT, while the process runs


def pytest_configure(config: pytest.Config) -> None:
    """Freeze the clock at `DOJO_FROZEN_AT`, if set, before the test file is imported and collected."""
    moment = os.environ.get("DOJO_FROZEN_AT")
    if moment:
        traveller = time_machine.travel(datetime.fromisoformat(moment), tick=False)
        traveller.start()
        _frozen.append(traveller)


def pytest_unconfigure(config: pytest.Config) -> None:
    while _frozen:
        _frozen.pop().stop()


@pytest.fixture(autouse=True, params=VARIANTS, ids=[f"variant={name}" for name in VARIANTS])
def _dojo_variant(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Replace `prorate` by the mutant: in the services module, and wherever the test module holds it."""
    if request.param != ORIGINAL:
        services = importlib.import_module(SERVICES)
        real = services.prorate
        behaviour = real if request.param == DISGUISED else MUTANTS[request.param].prorate
        mutant = disguise(behaviour, like=real)
        monkeypatch.setattr(services, "prorate", mutant)
        for name, value in list(vars(request.module).items()):
            if value is real:
                monkeypatch.setattr(request.module, name, mutant)
    return str(request.param)


def disguise(behaviour: Callable[..., Any], *, like: Callable[..., Any]) -> Callable[..., Any]:
    """A plain function that does what `behaviour` does and looks like `like`: name, docstring, signature."""

    @functools.wraps(like)
    def prorate(*args: Any, **kwargs: Any) -> Any:
        return behaviour(*args, **kwargs)

    del prorate.__wrapped__  # set by wraps; the real function has none
    prorate.__signature__ = inspect.signature(like)  # type: ignore[attr-defined]
    return prorate


def _label(item: pytest.Item) -> str:
    """The test's name without the variant: `test_x[variant=original-5]` -> `test_x[5]`."""
    name = item.nodeid.split("::", 1)[-1]  # Class::test_name[params], without the file
    if "[" not in name:
        return name
    base, params = name.split("[", 1)
    params = _VARIANT_ID.sub(lambda match: "-" if match.group().count("-") == 2 else "", params[:-1])
    return f"{base}[{params}]" if params else base


def _message(report: pytest.TestReport) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    if report.skipped and isinstance(report.longrepr, tuple):
        return str(report.longrepr[2]).removeprefix("Skipped: ")
    if crash is not None:
        return f"line {crash.lineno}: {crash.message.splitlines()[0].removeprefix('AssertionError: ')}"
    return str(report.longrepr or "")[-500:]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    report: pytest.TestReport = yield
    callspec = getattr(item, "callspec", None)
    variant = callspec.params.get("_dojo_variant", ORIGINAL) if callspec else ORIGINAL
    key = (_label(item), variant)
    entry = _outcomes.setdefault(key, {"test": key[0], "variant": variant, "outcome": "passed", "message": ""})
    xfail = hasattr(report, "wasxfail")
    if report.failed and entry["outcome"] != "failed":
        entry.update(outcome="failed", message=_message(report))
    elif (report.skipped or xfail) and entry["outcome"] == "passed":
        reason = f"xfail: {report.wasxfail}" if xfail else _message(report)
        entry.update(outcome="skipped", message=reason)
    return report


def pytest_collectreport(report: pytest.CollectReport) -> None:
    if report.failed:
        _collection_errors.append(str(report.longrepr)[-1500:])
    elif report.skipped:  # a whole module skipped while it was collected: `pytest.skip(allow_module_level=True)`
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr or "")
        _collection_skips.append(f"{report.nodeid}: {str(reason).removeprefix('Skipped: ')}"[-500:])


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    document = {
        "collected": session.testscollected,
        "collection_errors": _collection_errors,
        "collection_skips": _collection_skips,
        "tests": list(_outcomes.values()),
    }
    Path(os.environ["DOJO_MUTATION_REPORT"]).write_text(json.dumps(document, indent=2), encoding="utf-8")
