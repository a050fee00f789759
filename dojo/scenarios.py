"""Generated scenarios for graders, and the reference solution as their oracle.

A grader that checks only the cases its authors listed passes the fixes they never imagined. A
scenario check instead draws cases from the kata's threat model (redeliveries at any distance, two
different events at once, a provider that times out, data across every branch the README names), runs
the learner's code and the reference solution on each, and compares what the README's contract lists:
rows, side effects, answers, exceptions.

- `scenarios(n)` is hypothesis's `settings` for a grader: derandomized, so that every run draws the
  same cases (a verdict never depends on luck), no example database on disk, no deadline (the verdict
  judges behaviour, never time), and shrinking on, so that a failure shows a minimal counterexample.
- `rolled_back()` gives each example its own savepoint, so that examples of one check never see each
  other's rows.
- `reference("<slug>.services")` loads the reference solution's module against the learner's models:
  both run on the same tables, in the same test database.
"""

import importlib
import importlib.util
import itertools
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

from django.db import transaction
from hypothesis import HealthCheck, Phase, settings
from hypothesis.configuration import set_hypothesis_home_dir

from dojo import paths

_references = itertools.count(1)

# hypothesis keeps a cache of Unicode tables in its home folder (`.hypothesis/` in the working folder by
# default): a grading keeps it outside the clone, where kata code may not write and the learner never looks
set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "dojo-hypothesis")

#: the modules of a kata that its reference shares with the learner's code: the database they describe
SHARED = ("models", "apps", "migrations")


class _Reference(ModuleType):
    """A module of the reference solution. Its repr names no file: hypothesis prints a failing example's
    arguments, a fixture such as `oracle` among them, and the reference's path must not reach the learner."""

    def __repr__(self) -> str:
        return "<the reference solution>"


class _Rollback(Exception):  # noqa: N818 - a signal, not an error: it ends the example's savepoint
    pass


def scenarios(
    max_examples: int = 60,
    **overrides: Any,  # noqa: ANN401 - passed on to hypothesis.settings as they are
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """hypothesis settings for a grader check: the same cases on every run, shrunk when one fails.

    `overrides` are further `hypothesis.settings` arguments (hypothesis's own, untyped: Any).
    """
    return settings(
        max_examples=max_examples,
        derandomize=True,
        database=None,
        deadline=None,
        print_blob=False,
        phases=(Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink),
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
        ],
        **overrides,
    )


@contextmanager
def rolled_back() -> Iterator[None]:
    """A block whose writes are undone at its end, so that each generated example starts from the same rows."""
    try:
        with transaction.atomic():
            yield
            raise _Rollback
    except _Rollback:
        pass


def reference(module: str) -> ModuleType:
    """`module` (e.g. "n_plus_one.services") as the reference solution has it, on the learner's models.

    The reference's package is loaded from `solutions/<slug>/` under a name of its own; its models, app
    and migrations are the learner's (the harness proves that a kata's models match its reference
    wherever they are not the lesson), so both write to and read from the same tables.
    """
    package, _, inner = module.partition(".")
    learner = importlib.import_module(package)
    folder = paths.SOLUTIONS / package
    name = f"{package}_reference_{next(_references)}"
    spec = importlib.util.spec_from_file_location(
        name, folder / "__init__.py", submodule_search_locations=[str(folder)]
    )
    if spec is None or spec.loader is None:
        raise ModuleNotFoundError(f"no reference solution for {package} in {folder}")
    loaded = importlib.util.module_from_spec(spec)
    sys.modules[name] = loaded
    for shared in SHARED:
        learner_module = sys.modules.get(f"{package}.{shared}")
        if learner_module is None and (folder / f"{shared}.py").is_file():
            learner_module = importlib.import_module(f"{package}.{shared}")
        if learner_module is not None:
            sys.modules[f"{name}.{shared}"] = learner_module
            setattr(loaded, shared, learner_module)
    spec.loader.exec_module(loaded)
    del learner  # only imported so that its models are registered first
    result = importlib.import_module(f"{name}.{inner}") if inner else loaded
    for made in (loaded, result):
        made.__class__ = _Reference
    return result
