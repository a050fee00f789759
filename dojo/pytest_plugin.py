"""The grading contract, as a pytest plugin (loaded with `-p dojo.pytest_plugin`).

* `pytest katas` and `pytest katas/<slug>` run the graders in `graders/` against the learner's code;
  `--solutions` runs the same graders against `solutions/`, `--kata-root DIR` against any tree.
* Each kata is loaded, collected and graded in a process of its own (`dojo.isolation`): nothing one
  kata's code does (an exit, an endless loop, a patched helper) changes another kata's verdict. The
  parent replays every child's reports in manifest order, so the run reads as one pytest run.
  `DOJO_IN_PROCESS=1` grades in this one process instead.
* A kata that cannot be loaded becomes one failing item with a readable message; the others run.
* A failing lesson test names its rule and the page to read; a summary per kata ends the run, and
  the results are written (`dojo.results`): `.dojo/results.json` for the learner's tree.
"""

import os
import sys
from collections.abc import Generator, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pytest

from dojo import bytecode, cpulimit, database, isolation, names, paths, results, tamper
from dojo.files import StateError
from dojo.manifest import Kata, kata_by_slug, load_katas
from dojo.problems import (
    BROKEN,
    describe_error,
    describe_exit,
    describe_stuck,
    describe_vanished,
)
from dojo.rules import load_rules, rule_url

GRADER_TIMEOUT_SECONDS = float(os.environ.get("DOJO_GRADER_TIMEOUT", "10"))
TREES = {"katas": paths.KATAS, "solutions": paths.SOLUTIONS}
NO_KATAS = "-"  # DOJO_KATAS for a process that loads no kata (see dojo/settings.py)


@dataclass
class Plan:
    """What this run grades, decided from the command line before Django is set up."""

    role: str = "inert"  # inert (not grading) · in-process · parent · child
    slugs: list[str] = field(default_factory=list)  # in manifest order
    selections: dict[str, list[str]] = field(default_factory=dict)  # slug -> node ids chosen; none: all
    child_options: list[str] = field(default_factory=list)  # the command line without its paths
    child_kata: str | None = None
    results: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # slug -> test entries
    deselected: dict[str, list[str]] = field(default_factory=dict)  # slug -> test names left out


PLAN_KEY = pytest.StashKey[Plan]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("dojo", "Backend Standards Dojo")
    group.addoption("--solutions", action="store_true", help="grade the reference solutions/ instead of katas/")
    group.addoption("--kata-root", metavar="DIR", help="grade the katas found in DIR (a tree shaped like katas/)")
    group.addoption("--dojo-report", metavar="FILE", help="also write the grading results as JSON to FILE")


def _option_value(args: list[str], name: str) -> str | None:
    for index, arg in enumerate(args):
        if arg == name and index + 1 < len(args):
            return args[index + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


@dataclass(frozen=True)
class Route:
    """Where a command-line path points in the graders: a kata (or every kata) and maybe a node id."""

    grader_path: str
    tree: str | None
    slug: str | None  # None: every kata
    selection: str | None = None  # a node id within the kata (a file, a test), None for the whole kata


def _no_such_kata(slug: str) -> pytest.UsageError:
    return pytest.UsageError(names.unknown_kata(slug))  # the words and the matching of `uv run dojo`


def _route(arg: str, invocation_dir: Path) -> Route | None:
    """Map `katas[/<slug>[/<grader file>[::test]]]` (or `solutions/…`, `graders/…`); None for other arguments."""
    if arg.startswith("-"):
        return None
    path_part, colons, test_part = arg.partition("::")
    target = (invocation_dir / path_part).resolve()
    trees: dict[str | None, Path] = {"katas": paths.KATAS, "solutions": paths.SOLUTIONS, None: paths.GRADERS}
    for tree_name, tree in trees.items():
        if target == tree:
            return Route(str(paths.GRADERS), tree_name, None)
        if not target.is_relative_to(tree):
            continue
        slug, *rest = target.relative_to(tree).parts
        if slug not in kata_by_slug():
            raise _no_such_kata(slug)
        kata_dir = paths.GRADERS / slug
        grader_file = kata_dir.joinpath(*rest) if rest else None
        if grader_file is None or not grader_file.exists():  # a kata file (`katas/x/services.py`): the kata
            return Route(str(kata_dir), tree_name, slug)
        node = str(grader_file.relative_to(paths.REPO).as_posix()) + (colons + test_part if colons else "")
        return Route(str(kata_dir), tree_name, slug, node)
    return None


def _role() -> str:
    if os.environ.get(isolation.CHILD_KATA):
        return "child"
    return "in-process" if isolation.IN_PROCESS else "parent"


@pytest.hookimpl(wrapper=True)
def pytest_load_initial_conftests(
    early_config: pytest.Config, parser: pytest.Parser, args: list[str]
) -> Generator[None, object, object]:
    """Route `katas/...` to the graders and choose the tree to grade, before Django is set up."""
    plan = Plan()
    early_config.stash[PLAN_KEY] = plan
    chosen = _option_value(args, "--kata-root")
    routes: list[tuple[int, Route]] = []
    for index, arg in enumerate(args):
        if index > 0 and args[index - 1] in ("--kata-root", "--dojo-report", "-k", "-m", "-p"):
            continue
        route = _route(arg, early_config.invocation_params.dir)
        if route is not None:
            routes.append((index, route))
    for index, route in routes:
        args[index] = route.grader_path
    trees = {route.tree for _index, route in routes}
    if routes:
        _plan_grading(plan, [route for _index, route in routes], early_config)
    if chosen is None:
        chosen = str(paths.SOLUTIONS if "--solutions" in args or "solutions" in trees else paths.KATAS)
    os.environ["DOJO_KATA_ROOT"] = str(Path(chosen).resolve())
    # no __pycache__ folders inside the kata trees, so that `diff -r katas/X solutions/X` shows the lesson only
    bytecode.keep_out_of(Path(chosen), paths.KATAS, paths.SOLUTIONS)
    namespace = early_config.known_args_namespace
    namespace.file_or_dir = [
        route.grader_path if (route := _route(str(arg), early_config.invocation_params.dir)) else arg
        for arg in namespace.file_or_dir
    ]
    return (yield)


def _plan_grading(plan: Plan, routes: list[Route], config: pytest.Config) -> None:
    everything = any(route.slug is None for route in routes)
    wanted = {route.slug for route in routes if route.slug is not None}
    plan.slugs = [kata.slug for kata in load_katas() if everything or kata.slug in wanted]
    whole = {route.slug for route in routes if route.selection is None}
    for route in routes:
        if route.slug is not None and route.selection is not None and not everything and route.slug not in whole:
            plan.selections.setdefault(route.slug, []).append(route.selection)
    plan.role = _role()
    if plan.role == "child":
        plan.child_kata = os.environ.pop(isolation.CHILD_KATA)
        isolation.become_child(Path(os.environ.pop(isolation.CHANNEL)), _learner_roots())
    if plan.role in ("parent", "child"):
        # the parent loads no kata; a child sets Django up again with its kata alone (`_enter_kata`)
        os.environ["DOJO_KATAS"] = NO_KATAS
    elif not everything:
        # only some katas are graded: only their apps are installed, so Django loads and the test
        # database holds no other kata's models
        os.environ["DOJO_KATAS"] = ",".join(sorted(wanted))
    routed = {arg for arg in config.invocation_params.args if _route(str(arg), config.invocation_params.dir)}
    options, skip = [], False
    for arg in map(str, config.invocation_params.args):
        if skip:
            skip = False
        elif arg == "--dojo-report":
            skip = True
        elif arg not in routed and not arg.startswith("--dojo-report="):
            options.append(arg)
    plan.child_options = options


def _plan(config: pytest.Config) -> Plan:
    return config.stash.get(PLAN_KEY, Plan())


def _kata_of(node: pytest.Item | pytest.Collector) -> Kata | None:
    path = Path(node.path)
    if not path.is_relative_to(paths.GRADERS):
        return None
    parts = path.relative_to(paths.GRADERS).parts
    return kata_by_slug().get(parts[0]) if parts else None


def _kata_root() -> Path:
    return Path(os.environ.get("DOJO_KATA_ROOT", paths.KATAS))


def _learner_roots() -> tuple[Path, ...]:
    return (_kata_root().resolve(),)


def _tree_label(root: Path) -> str:
    for name, tree in TREES.items():
        if root.resolve() == tree:
            return f"{name}/"
    return str(root)


class BrokenKataError(Exception):
    """The kata's code could not be loaded; the message says where and why."""


class BrokenKata(pytest.Item):
    """Stands in for a grader module whose kata cannot be loaded, so every other kata still runs."""

    def __init__(self, *, problem: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.problem = problem

    def runtest(self) -> None:
        raise BrokenKataError(self.problem)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, BrokenKataError):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"{self.name}"


class GraderModule(pytest.Module):
    """A grader file: collected normally unless its kata is broken."""

    def collect(self) -> Iterable[pytest.Item | pytest.Collector]:
        kata = _kata_of(self)
        if kata is not None and kata.slug in BROKEN:
            return [BrokenKata.from_parent(self, name="kata_loads", problem=BROKEN[kata.slug])]
        try:
            return list(super().collect())
        except (Exception, SystemExit) as error:
            cause = error.__cause__ or error
            if kata is None:
                raise
            problem = describe_error(cause, _kata_root() / kata.slug)
            return [BrokenKata.from_parent(self, name="kata_loads", problem=problem)]


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """A grader folder the manifest does not list (a kata being written) is left out, not an error."""
    if collection_path.is_dir() and collection_path.parent == paths.GRADERS:
        return collection_path.name not in kata_by_slug() and collection_path.name != "__pycache__"
    return None


def pytest_pycollect_makemodule(module_path: Path, parent: pytest.Collector) -> pytest.Module | None:
    if module_path.is_relative_to(paths.GRADERS):
        return GraderModule.from_parent(parent, path=module_path)
    return None


def pytest_configure(config: pytest.Config) -> None:
    global _current_config
    _current_config = config
    # each check's limit in CPU seconds; what kata code may not change; PostgreSQL down, and its leftovers
    for module in (cpulimit, tamper, database):
        if not config.pluginmanager.is_registered(module):
            config.pluginmanager.register(module, module.__name__)
    config.addinivalue_line("markers", "postgresql: the check needs PostgreSQL (row locks, concurrent sessions)")
    config.addinivalue_line("markers", "threads: the check runs another worker in a thread (not in the browser)")
    if _grading(config) and config.getoption("tbstyle") == "auto":
        config.option.tbstyle = "short"


def pytest_sessionstart(session: pytest.Session) -> None:
    plan = _plan(session.config)
    if plan.role == "parent":
        session.config.pluginmanager.register(ParentRole(plan), "dojo-parent")
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            # the number of checks is known only as each kata's process reports: no percentages
            reporter._show_progress_info = False


def _grading(config: pytest.Config) -> bool:
    return _plan(config).role != "inert" or any(
        Path(str(arg)).resolve().is_relative_to(paths.GRADERS) for arg in config.args
    )


# --- the kata processes ----------------------------------------------------------------------------


def _enter_kata(slug: str) -> None:
    """In a kata's child: set Django up with this kata's app alone, and load every module of the kata."""
    from asgiref.local import Local
    from django.apps import apps
    from django.conf import settings
    from django.db import connections
    from django.utils.functional import empty

    from dojo.kata_apps import load_modules

    os.environ["DOJO_KATAS"] = slug
    settings._wrapped = empty  # read the settings again, for this kata (and its own test database)
    sys.modules.pop("dojo.settings", None)
    # the connections read DATABASES afresh (the test database's name is this process's own)
    connections.__dict__.pop("settings", None)
    connections._settings = None  # type: ignore[attr-defined]
    connections._connections = Local(connections.thread_critical)  # type: ignore[attr-defined]
    kata_dir = _kata_root().resolve() / slug
    try:
        apps.set_installed_apps(settings.INSTALLED_APPS)
    except (Exception, SystemExit) as error:  # e.g. models that Django refuses: this kata's problem alone
        BROKEN[slug] = describe_error(error, kata_dir)
        return
    load_modules(slug, kata_dir)


@pytest.hookimpl(wrapper=True)
def pytest_collection(session: pytest.Session) -> Generator[None, object, object]:
    plan = _plan(session.config)
    if plan.role == "in-process":
        from dojo.kata_apps import load_modules

        for slug in plan.slugs:
            load_modules(slug, _kata_root().resolve() / slug)
    if plan.role != "child" or plan.child_kata is None:
        return (yield)
    if len(plan.slugs) > 1:  # one kata alone imports only what its grader needs
        isolation.warm_up(postgresql=_on_postgresql())
    with isolation.load_time_limit():
        _enter_kata(plan.child_kata)
        return (yield)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    chosen = _plan(config).selections
    if chosen:  # a node id names a check or a file: the rest of its kata is collected, and left out
        kept, left_out = [], []
        for item in items:
            kata = _kata_of(item)
            wanted = chosen.get(kata.slug) if kata else None
            if wanted is None or any(_selects(node, item.nodeid) for node in wanted):
                kept.append(item)
            else:
                left_out.append(item)
        if left_out:
            config.hook.pytest_deselected(items=left_out)
            items[:] = kept
    _prepare_items(items)


def _on_postgresql() -> bool:
    from django.conf import settings

    return "postgresql" in settings.DATABASES["default"]["ENGINE"]


def _prepare_items(items: list[pytest.Item]) -> None:
    order = {kata.slug: position for position, kata in enumerate(load_katas())}
    on_postgresql = _on_postgresql()
    needs_postgresql = pytest.mark.skip(
        reason=f"{results.NEEDS_POSTGRESQL}: run with {results.POSTGRESQL_EXAMPLE} (CI does)"
    )
    for item in items:
        if item.get_closest_marker("postgresql") and not on_postgresql:
            item.add_marker(needs_postgresql)
        if _kata_of(item) is not None and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(cpulimit.wall_seconds()))  # a backstop: the limit is CPU time
        if _kata_of(item) is not None:
            # warnings as errors is for our own code: a learner's deprecated but working call (Ninja's
            # `return 201, obj`) is reported in the warnings summary, not turned into a false failure
            item.add_marker(pytest.mark.filterwarnings("default::DeprecationWarning"))
            item.add_marker(pytest.mark.filterwarnings("default::PendingDeprecationWarning"))
        if _kata_of(item) is not None and isinstance(item, pytest.Function):
            _show_only_learner_frames(item)
    # katas run in manifest order; within a kata, in the order the grader is written
    positions = {id(item): index for index, item in enumerate(items)}
    items.sort(
        key=lambda item: (
            order.get(kata.slug, -1) if (kata := _kata_of(item)) else -1,
            positions[id(item)],
        )
    )


def _selects(node: str, nodeid: str) -> bool:
    return nodeid == node or nodeid.startswith((node + "::", node + "["))


def pytest_deselected(items: list[Any]) -> None:
    for item in items:
        kata = _kata_of(item) if isinstance(item, pytest.Item) else None
        if kata is None:
            continue
        plan = _plan(item.config)
        plan.deselected.setdefault(kata.slug, []).append(item.name)
        if plan.role == "child":
            isolation.send("deselected", slug=kata.slug, test=item.name)


class ParentRole:
    """The hooks of a grading parent: it collects nothing itself, and runs a process per kata instead."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection(self, session: pytest.Session) -> bool | None:
        if self.plan.role != "parent":  # a forked child: collects as usual
            return None
        session.items = []
        return True

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> bool | None:
        if self.plan.role != "parent":
            return None
        _grade_in_children(session, self.plan)
        return True


def _grade_in_children(session: pytest.Session, plan: Plan) -> None:
    config = session.config
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    forking = isolation.can_fork()
    if reporter is not None and plan.slugs:
        how = "forked" if forking else "started"
        reporter.write_line(
            f"grading {len(plan.slugs)} kata{'s' if len(plan.slugs) != 1 else ''}, each in a process of its own "
            f"({how}, up to {min(isolation.jobs(), len(plan.slugs))} at once)"
        )
    if forking:
        if len(plan.slugs) > 1:  # the libraries are imported once for all the children
            isolation.warm_up(postgresql=_on_postgresql())
        base = config._tmp_path_factory  # type: ignore[attr-defined]
        base.getbasetemp()  # one base folder for every child's tmp_path, made before they start

    def start(child: isolation.Child) -> None:
        if forking:
            isolation.fork_child(child, lambda: _run_forked_child(session, child))
        else:
            command = [sys.executable, "-m", "pytest", *_child_paths(plan, child.slug), *plan.child_options]
            command += ["-p", "no:cacheprovider"]
            isolation.spawn_child(child, command, {**os.environ, "PYTEST_ADDOPTS": ""})

    collected = 0
    scheduler = isolation.Scheduler(plan.slugs, start)
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


def _child_paths(plan: Plan, slug: str) -> list[str]:
    """A spawned child's paths: the kata, or the node ids chosen in it (the child applies them itself)."""
    return [str(paths.REPO / node) for node in plan.selections.get(slug, [])] or [str(paths.GRADERS / slug)]


_KEPT: list[object] = []  # objects a forked child must not let the garbage collector close


def _run_forked_child(session: pytest.Session, child: isolation.Child) -> None:
    """The forked copy of the parent becomes this kata's grading: collect it, run it, report to the parent."""
    config = session.config
    plan = _plan(config)
    plan.role, plan.child_kata = "child", child.slug
    isolation.become_child(child.channel, _learner_roots())
    capture = config.pluginmanager.get_plugin("capturemanager")
    if capture is not None and capture.is_globally_capturing():
        # the parent's capture files are shared with every other child: this child captures into its own
        _KEPT.append(capture._global_capturing)  # never closed here: its files are the parent's
        capture._global_capturing = None
        capture.start_global_capturing()
        capture.suspend_global_capture()
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        from _pytest._io import TerminalWriter

        reporter._tw = TerminalWriter(open(os.devnull, "w", encoding="utf-8"))  # noqa: SIM115 - for the process's life
    config.args[:] = [str(paths.GRADERS / child.slug)]  # all of it: a selection is applied after collection
    # the parent may have replayed other katas before this fork: this child starts from nothing
    session.testsfailed = session.testscollected = 0
    session.shouldfail = session.shouldstop = False
    plan.results, plan.deselected = {}, {}
    try:
        config.hook.pytest_collection(session=session)
        config.hook.pytest_runtestloop(session=session)
    except (session.Failed, session.Interrupted):
        pass
    isolation.send("done")


def _replay(session: pytest.Session, child: isolation.Child) -> int:
    """Report what a kata's process did as if it had run here; a process that died is this kata's failure."""
    config = session.config
    hook = config.hook
    plan = _plan(config)
    started = 0
    for message in child.messages:
        kind = message.get("kind")
        if kind in ("report", "collect"):
            report = hook.pytest_report_from_serializable(config=config, data=message["data"])
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
            plan.deselected.setdefault(message["slug"], []).append(message["test"])
            hook.pytest_deselected(items=[NotRun(message["test"])])
    if not child.completed:
        started += 1
        _report_lost_child(session, child)
    tamper.after_child(session, child.slug, child.messages)
    return started


@dataclass(frozen=True)
class NotRun:
    """A check that a kata's process left out (`-k`, a node id), as the terminal counts it."""

    name: str


def _report_lost_child(session: pytest.Session, child: isolation.Child) -> None:
    slug = child.slug
    exited = child.last("exit")
    limit = child.last("limit")
    loading = child.last("loading")
    test = child.last("start")
    output = child.output_text()
    if child.timed_out:
        during = f" while running {test['nodeid']}" if test else ""
        problem = (
            f"Grading {slug} took longer than {isolation.KATA_TIMEOUT_SECONDS:g} s{during}, so it was stopped "
            "(the limit is DOJO_KATA_TIMEOUT, in seconds)."
        )
    elif exited is not None:
        problem = describe_exit(slug, exited["code"], exited.get("file"), exited.get("line"))
    elif limit is not None and "Timeout (" in output:
        where = isolation.stuck_at(output, _learner_roots())
        problem = describe_stuck(slug, limit["seconds"], *(where or (None, None)))
    else:
        if test is not None:
            during = f"while running {test['nodeid']}"
        elif loading is not None:
            during = f"while loading {_shown(Path(loading['file']))}"
        else:
            during = "before it could load the kata"
        problem = describe_vanished(slug, child.exit_description(), during, output)
    name = "kata_loads" if test is None else "kata_process"
    nodeid = f"graders/{slug}::{name}"
    entry = _entry(slug, name, "failed", rule=None, message=problem, broken=True, title="The kata can be graded")
    report = pytest.TestReport(
        nodeid=nodeid,
        location=(f"graders/{slug}", None, name),
        keywords={},
        outcome="failed",
        longrepr=problem,
        when="call",
        dojo_entry=entry,
    )
    hook = session.config.hook
    hook.pytest_runtest_logstart(nodeid=nodeid, location=report.location)
    hook.pytest_runtest_logreport(report=report)
    hook.pytest_runtest_logfinish(nodeid=nodeid, location=report.location)


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(paths.REPO))
    except ValueError:
        return str(path)


def pytest_runtest_logstart(nodeid: str, location: tuple[str, int | None, str]) -> None:
    if isolation.is_child():
        isolation.send("start", nodeid=nodeid)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if isolation.is_child():
        config = _current_config
        if config is not None:
            data = config.hook.pytest_report_to_serializable(config=config, report=report)
            isolation.send("report", data=data)
        return
    entry = getattr(report, "dojo_entry", None)
    if entry and _current_config is not None:
        plan = _plan(_current_config)
        entries = plan.results.setdefault(entry["slug"], [])
        entries[:] = [existing for existing in entries if existing["test"] != entry["test"]]
        entries.append(entry)


def pytest_collectreport(report: pytest.CollectReport) -> None:
    if isolation.is_child() and report.failed and _current_config is not None:
        data = _current_config.hook.pytest_report_to_serializable(config=_current_config, report=report)
        isolation.send("collect", data=data)


_current_config: pytest.Config | None = None  # the reports hooks are not given the config


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _plan(session.config).role == "child":  # a spawned child got to its end
        isolation.send("done")


def _show_only_learner_frames(item: pytest.Function) -> None:
    """Failures show the frames of the grader and of the kata only, not Django's or httpx's insides.

    Reading the learner's code is what helps; formatting library frames also cost a full grading run
    a second. `--fulltrace` still shows everything. (`_traceback_filter` is pytest's own hook point
    for this, on the item.)
    """
    learner_code = (paths.GRADERS, _kata_root().resolve())
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


def _lesson_text(kata: Kata, item: pytest.Item, report: pytest.TestReport) -> tuple[str, str]:
    rule_id = kata.rule_for(item.name)
    if isinstance(item, BrokenKata):
        return "kata", f"Kata `{kata.slug}` could not be graded; see above."
    if _failure_message(report).startswith("Timeout"):
        head = f"This check ran for more than {GRADER_TIMEOUT_SECONDS:g} s: look for a loop that never ends.\n"
    else:
        head = ""
    if rule_id is None:
        return (
            "behaviour",
            head + f"This check is not the lesson: the code no longer does what it did. "
            f"Re-read katas/{kata.slug}/README.md: the result must stay the same.",
        )
    rule = load_rules()[rule_id]
    return (
        f"{rule.id} · {rule.title}",
        head + f"This is the lesson of `{kata.slug}`: rule {rule.id} ({rule.title}).\n"
        f"Read the rule: {rule_url(rule.id)}\n"
        f"The kata, with hints: {paths.SITE_URL}/{kata.page} · hints: `uv run dojo hint {kata.slug}`",
    )


def _entry(
    slug: str, test: str, outcome: str, *, rule: str | None, message: str, broken: bool, title: str, output: str = ""
) -> dict[str, Any]:
    entry = asdict(
        results.TestResult(
            test=test, outcome=outcome, rule=rule, message=message, broken=broken, title=title, output=output
        )
    )
    return {"slug": slug, **entry}


def _title(item: pytest.Item) -> str:
    if isinstance(item, BrokenKata):
        return "The kata can be loaded"
    function = getattr(item, "function", None)
    return results.title_of(item.name, getattr(function, "__doc__", None))


def _shorten_captured(report: pytest.TestReport) -> str:
    """Shorten what the code printed (in the report too, so the terminal shows the short form)."""
    shortened = [(title, results.shorten(content)) for title, content in report.sections]
    report.sections = shortened
    return "\n".join(f"{title}:\n{content}" for title, content in shortened if title.startswith("Captured") and content)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    kata = _kata_of(item)
    if kata is None:
        return report
    output = _shorten_captured(report)
    if report.failed:
        title, text = _lesson_text(kata, item, report)
        addsection = getattr(report.longrepr, "addsection", None)
        if callable(addsection):
            addsection(title, text)
        else:
            report.longrepr = f"{report.longrepr}\n\n--- {title} ---\n{text}"
    if report.when == "call" or report.failed or report.skipped:
        message = _failure_message(report) if report.failed else _skip_reason(report) if report.skipped else ""
        report.dojo_entry = _entry(  # type: ignore[attr-defined]
            kata.slug,
            item.name,
            report.outcome,
            rule=kata.rule_for(item.name),
            message=message,
            broken=isinstance(item, BrokenKata),
            title=_title(item),
            output=output,
        )
    return report


def _failure_message(report: pytest.TestReport) -> str:
    """The whole failure message, as the check wrote it: never cut (the learner's output is shortened)."""
    if isinstance(report.longrepr, str):
        text = report.longrepr.split("\n\n--- ", 1)[0]
    else:
        crash = getattr(report.longrepr, "reprcrash", None)
        text = str(crash.message) if crash is not None else str(report.longrepr)
    lines = text.strip().splitlines()
    # pytest's own explanation of a bare `assert` starts with "assert …": the check's words come first
    explained = next((index for index, line in enumerate(lines) if line.lstrip().startswith("assert ")), None)
    if explained:
        lines = lines[:explained]
    first = (lines or [""])[0].removeprefix("AssertionError: ").removeprefix("Failed: ")
    return results.shorten("\n".join([first, *lines[1:]]).strip())


def _skip_reason(report: pytest.TestReport) -> str:
    if isinstance(report.longrepr, tuple) and len(report.longrepr) == 3:
        return str(report.longrepr[2]).removeprefix("Skipped: ")
    return str(report.longrepr or "")


def _kata_results(plan: Plan, finished_at: str) -> dict[str, results.KataResult]:
    graded = {}
    for slug in [kata.slug for kata in load_katas() if kata.slug in plan.results or kata.slug in plan.deselected]:
        entries = plan.results.get(slug, [])
        tests = [results.TestResult(**{k: v for k, v in entry.items() if k != "slug"}) for entry in entries]
        graded[slug] = results.kata_result(
            slug,
            tests,
            deselected=plan.deselected.get(slug, ()),
            graded_at=finished_at,
            files_sha256=tamper.checksum(_kata_root() / slug),
        )
    return graded


MARKS = {
    results.KataStatus.SOLVED: "PASS",
    results.KataStatus.FAILING: "FAIL",
    results.KataStatus.BROKEN: "FAIL",
    results.KataStatus.INCOMPLETE: "INCOMPLETE",
}


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    plan = _plan(config)
    if plan.role == "child" or not (plan.results or plan.deselected):
        return
    from dojo.files import now

    finished_at = now()
    graded = _kata_results(plan, finished_at)
    root = _kata_root()
    write = terminalreporter.write_line
    terminalreporter.section(f"kata results ({_tree_label(root)})", sep="=")
    for slug, result in graded.items():
        kata = kata_by_slug()[slug]
        failed = [entry for entry in result.tests if entry.outcome == results.Outcome.FAILED]
        line = f"{MARKS[result.status]:<10}  {kata.slug:<28} {', '.join(kata.rules):<18}"
        if result.status is results.KataStatus.BROKEN:
            line += "  the code could not be loaded (see above)"
        elif failed:
            lessons = sorted({entry.rule for entry in failed if entry.rule})
            line += f"  {len(failed)} of {len(result.tests)} checks fail"
            if lessons:
                line += f"; read {', '.join(rule_url(r).split(' ')[0] for r in lessons)}"
        status = result.status
        write(line, red=status in ("failing", "broken"), green=status == "solved", yellow=status == "incomplete")
        if status is results.KataStatus.INCOMPLETE:
            for note in result.notes:
                write(f"{'':<12}{note}", yellow=True)
    document = results.Results(tree=_tree_label(root), finished_at=finished_at, katas=graded)
    report = config.getoption("dojo_report")
    if report:
        results.write(Path(report), document)
    if root.resolve() == paths.KATAS and not config.getoption("kata_root"):
        # the learner's own results, merged with earlier runs of other katas
        try:
            results.record(paths.STATE / "results.json", document, kata_by_slug())
        except StateError as error:  # the grading stands; only remembering it failed, and the message says why
            write(str(error), red=True)
