"""Collection: grader files, katas that cannot be loaded, the checks' order and markers, what is left out.

A kata that cannot be loaded becomes one failing item (`kata_loads`) with a readable message; the
other katas are collected as usual. Katas run in manifest order, each check with its time limit.
"""

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from dojo import config as dojo_config
from dojo import cpulimit, isolation, paths, results, standard_guards
from dojo.manifest import Kata, kata_by_slug, load_katas
from dojo.plugin import edits, processes
from dojo.plugin.run import on_postgresql, run_of
from dojo.problems import BROKEN, describe_error

GRADER_TIMEOUT_SECONDS = dojo_config.grader_timeout()


def kata_of(node: pytest.Item | pytest.Collector) -> Kata | None:
    """The kata whose grader holds `node`, if any."""
    path = Path(node.path)
    if not path.is_relative_to(paths.GRADERS):
        return None
    parts = path.relative_to(paths.GRADERS).parts
    return kata_by_slug().get(parts[0]) if parts else None


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
        kata = kata_of(self)
        if kata is not None and kata.slug in BROKEN:
            return [BrokenKata.from_parent(self, name="kata_loads", problem=BROKEN[kata.slug])]
        try:
            items = list(super().collect())
        except (Exception, SystemExit) as error:
            cause = error.__cause__ or error
            if kata is None:
                raise
            problem = describe_error(cause, run_of(self.config).kata_root / kata.slug)
            return [BrokenKata.from_parent(self, name="kata_loads", problem=problem)]
        if kata is not None:
            edits.add_to(self, kata, items)
            standard_guards.add_to(self, kata, items)
        return items


def ignored(collection_path: Path) -> bool | None:
    """A grader folder the manifest does not list (a kata being written) is left out, not an error."""
    if collection_path.is_dir() and collection_path.parent == paths.GRADERS:
        return collection_path.name not in kata_by_slug() and collection_path.name != "__pycache__"
    return None


def grader_module(module_path: Path, parent: pytest.Collector) -> pytest.Module | None:
    if module_path.is_relative_to(paths.GRADERS):
        return GraderModule.from_parent(parent, path=module_path)
    return None


def is_grading(config: pytest.Config) -> bool:
    """This run grades katas (rather than running the project's own tests)."""
    return run_of(config).role != "inert" or any(
        Path(str(arg)).resolve().is_relative_to(paths.GRADERS) for arg in config.args
    )


def select(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Leave out what a node id did not choose, then give each check its markers, in manifest order."""
    chosen = run_of(config).selections
    if chosen:  # a node id names a check or a file: the rest of its kata is collected, and left out
        kept, left_out = [], []
        for item in items:
            kata = kata_of(item)
            wanted = chosen.get(kata.slug) if kata else None
            if wanted is None or any(_selects(node, item.nodeid) for node in wanted):
                kept.append(item)
            else:
                left_out.append(item)
        if left_out:
            config.hook.pytest_deselected(items=left_out)
            items[:] = kept
    _prepare_items(config, items)


def _prepare_items(config: pytest.Config, items: list[pytest.Item]) -> None:
    order = {kata.slug: position for position, kata in enumerate(load_katas())}
    postgresql = on_postgresql()
    needs_postgresql = pytest.mark.skip(
        reason=f"{results.NEEDS_POSTGRESQL}: run with {results.POSTGRESQL_EXAMPLE} (CI does)"
    )
    learner_code = (paths.GRADERS, *run_of(config).learner_roots)
    for item in items:
        if item.get_closest_marker("postgresql") and not postgresql:
            item.add_marker(needs_postgresql)
        if kata_of(item) is None:
            continue
        if item.get_closest_marker("timeout") is None:
            item.add_marker(
                pytest.mark.timeout(cpulimit.wall_seconds(cpulimit.seconds_for(item)))
            )  # a backstop: the limit is CPU time
        # warnings as errors is for our own code: a learner's deprecated but working call (Ninja's
        # `return 201, obj`) is reported in the warnings summary, not turned into a false failure
        item.add_marker(pytest.mark.filterwarnings("default::DeprecationWarning"))
        item.add_marker(pytest.mark.filterwarnings("default::PendingDeprecationWarning"))
        if isinstance(item, pytest.Function):
            processes.show_only_frames_under(item, learner_code)
    # katas run in manifest order; within a kata, in the order the grader is written
    positions = {id(item): index for index, item in enumerate(items)}
    items.sort(
        key=lambda item: (
            order.get(kata.slug, -1) if (kata := kata_of(item)) else -1,
            positions[id(item)],
        )
    )


def _selects(node: str, nodeid: str) -> bool:
    return nodeid == node or nodeid.startswith((node + "::", node + "["))


def record_deselected(items: list[Any]) -> None:
    """Note each check left out (`-k`, a node id) under its kata; a kata's process tells its parent."""
    for item in items:
        kata = kata_of(item) if isinstance(item, pytest.Item) else None
        if kata is None:
            continue
        run = run_of(item.config)
        run.deselected.setdefault(kata.slug, []).append(item.name)
        if run.role == "child":
            isolation.send("deselected", slug=kata.slug, test=item.name)
