"""Processes: each kata graded in a process of its own, forked (Linux, one thread) or spawned, and
what it did replayed in the parent in manifest order, so that the run reads as one pytest run.

The low-level process work (fork, spawn, the channel, the scheduler, time limits) is `dojo.isolation`;
this module is its pytest side. It is also the one module of the plugin that touches private pytest
and Django attributes; each one, and why:

* `TerminalReporter._show_progress_info`: the parent shows no percentages (it learns the number of
  checks only as each kata's process reports).
* `Config._tmp_path_factory`: one base folder for every child's `tmp_path`, made before they fork.
* `CaptureManager._global_capturing`: a forked child captures into files of its own, not the parent's.
* `TerminalReporter._tw` and `_pytest._io.TerminalWriter`: a forked child writes nothing to the terminal.
* `Item._traceback_filter`: pytest's hook point for the frames a failure shows (the learner's only).
* `Session._setupstate`: a child stopped at its first failed lesson tears its fixtures down, as
  pytest's own session end does (`SetupState.teardown_exact`).
* `LazySettings._wrapped`, `ConnectionHandler._settings` and `._connections`: a kata's process reads
  Django's settings and databases again, for its kata alone.
"""

import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from dojo import isolation, paths, results, tamper
from dojo.plugin import warm
from dojo.plugin.run import Run, on_postgresql, run_of, stopped_at_first_lesson
from dojo.problems import describe_exit, describe_stuck, describe_vanished

# --- the private attributes ------------------------------------------------------------------------


def forget_django_settings() -> None:
    """Make Django read its settings and database connections again (in a kata's process)."""
    from asgiref.local import Local
    from django.conf import settings
    from django.db import connections
    from django.utils.functional import empty

    settings._wrapped = empty
    sys.modules.pop("dojo.settings", None)
    # the connections read DATABASES afresh (the test database's name is this process's own)
    connections.__dict__.pop("settings", None)
    connections._settings = None  # type: ignore[attr-defined]
    connections._connections = Local(connections.thread_critical)  # type: ignore[attr-defined]


def show_only_frames_under(item: pytest.Function, roots: Iterable[Path]) -> None:
    """Failures show the frames of the grader and of the kata only, not Django's or httpx's insides.

    Reading the learner's code is what helps; formatting library frames also cost a full grading run
    a second. `--fulltrace` still shows everything.
    """
    learner_code = tuple(roots)
    standard_filter = item._traceback_filter

    def learner_frames(excinfo: pytest.ExceptionInfo[BaseException]) -> Any:
        traceback = standard_filter(excinfo)
        if item.config.getoption("fulltrace", False):
            return traceback
        kept = traceback.filter(
            lambda entry: any(Path(str(entry.path)).resolve().is_relative_to(root) for root in learner_code)
        )
        return kept if len(kept) else traceback[-1:]

    item._traceback_filter = learner_frames  # type: ignore[method-assign]


def _hide_progress(config: pytest.Config) -> None:
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter._show_progress_info = False


def _make_base_temp(config: pytest.Config) -> None:
    base = config._tmp_path_factory  # type: ignore[attr-defined]
    base.getbasetemp()


def _capture_alone(run: Run, config: pytest.Config) -> None:
    """A forked child captures into files of its own, and writes nothing to the parent's terminal."""
    capture = config.pluginmanager.get_plugin("capturemanager")
    if capture is not None and capture.is_globally_capturing():
        run.kept.append(capture._global_capturing)  # never closed here: its files are the parent's
        capture._global_capturing = None
        capture.start_global_capturing()
        capture.suspend_global_capture()
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        from _pytest._io import TerminalWriter

        reporter._tw = TerminalWriter(open(os.devnull, "w", encoding="utf-8"))  # noqa: SIM115 - for the process's life


# --- the parent ------------------------------------------------------------------------------------


def start_session(session: pytest.Session) -> None:
    """A grading parent takes over collection and the run loop (`ParentRole`)."""
    run = run_of(session.config)
    if run.role == "parent":
        session.config.pluginmanager.register(ParentRole(run), "dojo-parent")
        # the number of checks is known only as each kata's process reports: no percentages
        _hide_progress(session.config)


class ParentRole:
    """The hooks of a grading parent: it collects nothing itself, and runs a process per kata instead."""

    def __init__(self, run: Run) -> None:
        self.run = run

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection(self, session: pytest.Session) -> bool | None:
        if self.run.role != "parent":  # a forked child: collects as usual
            return None
        session.items = []
        return True

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> bool | None:
        if self.run.role != "parent":
            return None
        _grade_in_children(session, self.run)
        return True


def _grade_in_children(session: pytest.Session, run: Run) -> None:
    config = session.config
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    forking = isolation.can_fork()
    if reporter is not None and run.slugs:
        how = "forked" if forking else "started"
        reporter.write_line(
            f"grading {len(run.slugs)} kata{'s' if len(run.slugs) != 1 else ''}, each in a process of its own "
            f"({how}, up to {min(isolation.jobs(), len(run.slugs))} at once)"
        )
    if forking:
        if len(run.slugs) > 1:  # the libraries are imported once for all the children
            warm.warm_up(run, postgresql=on_postgresql())
        _make_base_temp(config)  # one base folder for every child's tmp_path, made before they start

    def start(child: isolation.Child) -> None:
        if forking:
            isolation.fork_child(child, lambda: _run_forked_child(session, child))
        else:
            command = [sys.executable, "-m", "pytest", *child_paths(run, child.slug), *run.child_options]
            command += ["-p", "no:cacheprovider"]
            isolation.spawn_child(child, command, {**os.environ, "PYTEST_ADDOPTS": ""})

    collected = 0
    scheduler = isolation.Scheduler(run.slugs, start)
    for child in scheduler:
        collected += _replay(session, child)
        session.testscollected = collected
        if session.shouldfail or session.shouldstop:
            scheduler.stop()
            break
    session.testscollected = collected
    if session.shouldfail:
        raise session.Failed(session.shouldfail)
    if session.shouldstop:
        raise session.Interrupted(session.shouldstop)


def child_paths(run: Run, slug: str) -> list[str]:
    """A spawned child's paths: the kata, or the node ids chosen in it (the child applies them itself)."""
    return [str(paths.REPO / node) for node in run.selections.get(slug, [])] or [str(paths.GRADERS / slug)]


def _run_forked_child(session: pytest.Session, child: isolation.Child) -> None:
    """The forked copy of the parent becomes this kata's grading: collect it, run it, report to the parent."""
    config = session.config
    run = run_of(config)
    run.role, run.child_kata = "child", child.slug
    isolation.become_child(child.channel, run.learner_roots)
    _capture_alone(run, config)
    config.args[:] = [str(paths.GRADERS / child.slug)]  # all of it: a selection is applied after collection
    # the parent may have replayed other katas before this fork: this child starts from nothing
    session.testsfailed = session.testscollected = 0
    session.shouldfail = session.shouldstop = False
    run.results, run.deselected = {}, {}
    try:
        config.hook.pytest_collection(session=session)
        config.hook.pytest_runtestloop(session=session)
    except (session.Failed, session.Interrupted):
        if stopped_at_first_lesson(session):
            # the fixtures still set up are torn down, as pytest's own session end does (a test database)
            session._setupstate.teardown_exact(None)
    isolation.send("done")


def _replay(session: pytest.Session, child: isolation.Child) -> int:
    """Report what a kata's process did as if it had run here; a process that died is this kata's failure."""
    config = session.config
    hook = config.hook
    run = run_of(config)
    started = 0
    for message in child.messages:
        kind = message.get("kind")
        if kind in ("report", "collect"):
            report = hook.pytest_report_from_serializable(config=config, data=message["data"])
            if report is not None and isinstance(report.longrepr, list):
                # a skip's (path, line, reason) came through JSON as a list: `-v` and `-rs` need the tuple
                report.longrepr = tuple(report.longrepr)
            if isinstance(report, pytest.TestReport):
                if report.when == "setup":
                    started += 1
                    hook.pytest_runtest_logstart(nodeid=report.nodeid, location=report.location)
                hook.pytest_runtest_logreport(report=report)
                if report.when == "teardown":
                    hook.pytest_runtest_logfinish(nodeid=report.nodeid, location=report.location)
            elif report is not None:
                hook.pytest_collectreport(report=report)
        elif kind == "deselected":
            run.deselected.setdefault(message["slug"], []).append(message["test"])
            hook.pytest_deselected(items=[NotRun(message["test"])])
    if not child.completed:
        started += 1
        _report_lost_child(session, run, child)
    tamper.after_child(session, child.slug, child.messages)
    return started


@dataclass(frozen=True)
class NotRun:
    """A check that a kata's process left out (`-k`, a node id), as the terminal counts it."""

    name: str


def _report_lost_child(session: pytest.Session, run: Run, child: isolation.Child) -> None:
    slug = child.slug
    exited = child.last("exit")
    limit = child.last("limit")
    loading = child.last("loading")
    test = child.last("start")
    output = child.output_text()
    if child.timed_out:
        stop = results.Stop.GRADING_TIMEOUT
        during = f" while running {test['nodeid']}" if test else ""
        problem = (
            f"Grading {slug} took longer than {isolation.KATA_TIMEOUT_SECONDS:g} s{during}, so it was stopped "
            "(the limit is DOJO_KATA_TIMEOUT, in seconds)."
        )
    elif exited is not None:
        stop = results.Stop.EXIT
        problem = describe_exit(slug, exited["code"], exited.get("file"), exited.get("line"))
    elif limit is not None and "Timeout (" in output:  # faulthandler's own words when the load limit ends it
        stop = results.Stop.LOAD_TIMEOUT
        where = isolation.stuck_at(output, run.learner_roots)
        problem = describe_stuck(slug, limit["seconds"], *(where or (None, None)))
    else:
        stop = results.Stop.CRASH
        if test is not None:
            during = f"while running {test['nodeid']}"
        elif loading is not None:
            during = f"while loading {paths.shown(Path(loading['file']))}"
        else:
            during = "before it could load the kata"
        problem = describe_vanished(slug, child.exit_description(), during, output)
    name = "kata_loads" if test is None else "kata_process"
    nodeid = f"graders/{slug}::{name}"
    made = results.stopped(name, stop, problem)
    report = pytest.TestReport(
        nodeid=nodeid,
        location=(f"graders/{slug}", None, name),
        keywords={},
        outcome="failed",
        longrepr=problem,
        when="call",
        user_properties=[(results.RECORD, results.entry(slug, made))],
    )
    hook = session.config.hook
    hook.pytest_runtest_logstart(nodeid=nodeid, location=report.location)
    hook.pytest_runtest_logreport(report=report)
    hook.pytest_runtest_logfinish(nodeid=nodeid, location=report.location)


# --- a kata's process: what it tells its parent -----------------------------------------------------


def tell_started(nodeid: str) -> None:
    if isolation.is_child():
        isolation.send("start", nodeid=nodeid)


def tell_report(config: pytest.Config, report: pytest.TestReport | pytest.CollectReport) -> bool:
    """In a kata's process, send a check's report (or a failed collection's) to the parent; whether sent."""
    if not isolation.is_child():
        return False
    if isinstance(report, pytest.TestReport):
        data = config.hook.pytest_report_to_serializable(config=config, report=report)
        isolation.send("report", data=data)
    elif report.failed:
        data = config.hook.pytest_report_to_serializable(config=config, report=report)
        isolation.send("collect", data=data)
    return True


def tell_done(config: pytest.Config) -> None:
    if run_of(config).role == "child":  # a spawned child got to its end
        isolation.send("done")
