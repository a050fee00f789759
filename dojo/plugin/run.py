"""The state of one grading run: a `Run` in `config.stash`, so that a run inside a run (a test that
starts pytest in its own process) never sees another's state."""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from dojo import paths


@dataclass
class Run:
    """What this run grades, decided from the command line before Django is set up, and what it found."""

    role: str = "inert"  # inert (not grading) · in-process · parent · child
    slugs: list[str] = field(default_factory=list)  # in manifest order
    selections: dict[str, list[str]] = field(default_factory=dict)  # slug -> node ids chosen; none: all
    child_options: list[str] = field(default_factory=list)  # the command line without its paths
    child_kata: str | None = None
    kata_root: Path = paths.KATAS  # the tree graded: katas/, solutions/ or --kata-root
    results: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # slug -> test entries
    deselected: dict[str, list[str]] = field(default_factory=dict)  # slug -> test names left out
    warm: bool = False  # the libraries every kata uses are imported (dojo.plugin.warm)
    kept: list[object] = field(default_factory=list)  # what a forked child must not let the collector close

    @property
    def learner_roots(self) -> tuple[Path, ...]:
        """The folders of learner code: what an exit, a hang or a traceback is traced back to."""
        return (self.kata_root.resolve(),)


RUN = pytest.StashKey[Run]()


def run_of(config: pytest.Config) -> Run:
    """This run's state (an inert run when pytest was not asked to grade)."""
    return config.stash.setdefault(RUN, Run())


def on_postgresql() -> bool:
    """The run's database is PostgreSQL (the settings are read: only once Django is set up)."""
    from django.conf import settings

    return "postgresql" in settings.DATABASES["default"]["ENGINE"]


#: why a kata's process ended its grading early (`dojo.config.stop_at_first_lesson`)
STOPPED_AT_FIRST_LESSON = "the kata is rejected: a lesson or guard check failed (DOJO_STOP_AT_FIRST_LESSON)"


def stopped_at_first_lesson(session: pytest.Session) -> bool:
    return session.shouldstop == STOPPED_AT_FIRST_LESSON
