import itertools
import os
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from dojo import paths
from dojo.manifest import load_katas
from dojo.runner import Grading, grade

from .kata_trees import patched_tree, starter_tree

_databases = itertools.count(1)


def grading_env() -> dict[str, str]:
    """Each grading process gets a test database of its own, so that runs can go in parallel."""
    if "DATABASE_URL" not in os.environ:
        return {}
    return {"DOJO_TEST_DB": f"test_dojo_{os.getpid()}_{next(_databases)}"}


Key = tuple[str, ...]


def _rounds(kind: str) -> dict[int, list[tuple[str, str]]]:
    """Round N holds the N-th decoy (or alternative) of every kata that has one."""
    rounds: dict[int, list[tuple[str, str]]] = {}
    for kata in load_katas():
        names = kata.decoys if kind == "decoy" else kata.alternatives
        for number, name in enumerate(names):
            rounds.setdefault(number, []).append((kata.slug, name))
    return rounds


@pytest.fixture(scope="session")
def gradings(tmp_path_factory: pytest.TempPathFactory) -> dict[Key, Grading]:
    """Every grading the integrity tests judge, run once per session, two at a time.

    Decoys and alternatives go in rounds: round N holds the N-th decoy of every kata that has one,
    each laid over its own kata's solution in one tree. Katas are separate apps, so one process grades
    the whole round, and a decoy that breaks its kata breaks no other.
    """
    katas = {kata.slug: kata for kata in load_katas()}
    jobs: dict[Key, Callable[[], Grading]] = {}
    starter = starter_tree(tmp_path_factory.mktemp("starter") / "katas")
    jobs[("starter",)] = lambda: grade(["katas"], kata_root=starter, env=grading_env())
    jobs[("solutions",)] = lambda: grade(["katas", "--solutions"], env=grading_env())
    rounds = {kind: _rounds(kind) for kind in ("decoy", "alternative")}
    for kind, kind_rounds in rounds.items():
        for number, members in kind_rounds.items():
            tree = tmp_path_factory.mktemp(f"{kind}s-{number}")
            for slug, name in members:
                kata = katas[slug]
                diff = kata.decoy_path(name) if kind == "decoy" else kata.alternative_path(name)
                patched_tree(slug, diff, tree)
            targets = [f"katas/{slug}" for slug, _name in members]
            jobs[(f"{kind}s", str(number))] = lambda targets=targets, tree=tree: grade(
                targets, kata_root=tree, env=grading_env()
            )
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        futures = {key: pool.submit(job) for key, job in jobs.items()}
        done = {key: future.result() for key, future in futures.items()}
    for kind, kind_rounds in rounds.items():
        for number, members in kind_rounds.items():
            for slug, name in members:
                done[(kind, slug, name)] = done[(f"{kind}s", str(number))]
    return done


@pytest.fixture(scope="session")
def on_postgresql() -> bool:
    return os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://"))


@pytest.fixture(scope="session")
def built_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site, built strictly (any broken link or anchor fails), into a temporary folder."""
    target = tmp_path_factory.mktemp("site")
    completed = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(target)],
        cwd=paths.REPO,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    return target
