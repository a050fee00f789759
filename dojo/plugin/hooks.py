"""The plugin's pytest hooks: each hands over to the module that owns its concern (see `dojo.plugin`)."""

from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from dojo import cpulimit, database, tamper
from dojo.plugin import collection, environment, planning, processes, reports, summary
from dojo.plugin.run import run_of

__all__ = (
    "pytest_addoption",
    "pytest_collection",
    "pytest_collection_modifyitems",
    "pytest_configure",
    "pytest_deselected",
    "pytest_ignore_collect",
    "pytest_load_initial_conftests",
    "pytest_pycollect_makemodule",
    "pytest_runtest_logstart",
    "pytest_runtest_makereport",
    "pytest_sessionfinish",
    "pytest_sessionstart",
    "pytest_terminal_summary",
)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("dojo", "Backend Standards Dojo")
    group.addoption("--solutions", action="store_true", help="grade the reference solutions/ instead of katas/")
    group.addoption("--kata-root", metavar="DIR", help="grade the katas found in DIR (a tree shaped like katas/)")
    group.addoption("--dojo-report", metavar="FILE", help="also write the grading results as JSON to FILE")


@pytest.hookimpl(wrapper=True)
def pytest_load_initial_conftests(
    early_config: pytest.Config, parser: pytest.Parser, args: list[str]
) -> Generator[None, object, object]:
    """Route `katas/...` to the graders and choose the tree to grade, before Django is set up."""
    planning.plan(early_config, args)
    return (yield)


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    return collection.ignored(collection_path)


def pytest_pycollect_makemodule(module_path: Path, parent: pytest.Collector) -> pytest.Module | None:
    return collection.grader_module(module_path, parent)


class ReportHooks:
    """The hooks pytest calls without the config, bound to this run's config when it is configured."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if not processes.tell_report(self.config, report):
            reports.record(run_of(self.config), report)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        processes.tell_report(self.config, report)


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(ReportHooks(config), "dojo-reports")
    # each check's limit in CPU seconds; what kata code may not change; PostgreSQL down, and its leftovers
    for module in (cpulimit, tamper, database):
        if not config.pluginmanager.is_registered(module):
            config.pluginmanager.register(module, module.__name__)
    config.addinivalue_line("markers", "postgresql: the check needs PostgreSQL (row locks, concurrent sessions)")
    config.addinivalue_line("markers", "threads: the check runs another worker in a thread (not in the browser)")
    config.addinivalue_line("markers", "cpu_seconds(n): the check's CPU limit, for work that is large by design")
    if collection.is_grading(config) and config.getoption("tbstyle") == "auto":
        config.option.tbstyle = "short"


def pytest_sessionstart(session: pytest.Session) -> None:
    processes.start_session(session)


@pytest.hookimpl(wrapper=True)
def pytest_collection(session: pytest.Session) -> Generator[None, object, object]:
    with environment.loaded(session.config):
        return (yield)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    collection.select(config, items)


def pytest_deselected(items: list[Any]) -> None:
    collection.record_deselected(items)


def pytest_runtest_logstart(nodeid: str, location: tuple[str, int | None, str]) -> None:
    processes.tell_started(nodeid)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = reports.enrich(item, (yield))
    reports.stop_if_rejected(run_of(item.config), item, report)
    return report


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    processes.tell_done(session.config)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    summary.write(terminalreporter, config)
