import itertools
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from dojo.manifest import load_katas
from dojo.runner import Grading, grade

from .kata_trees import decoy_tree, starter_tree

_databases = itertools.count(1)


def grading_env() -> dict[str, str]:
    """Each grading process gets a test database of its own, so that runs can go in parallel."""
    if "DATABASE_URL" not in os.environ:
        return {}
    return {"DOJO_TEST_DB": f"test_dojo_{os.getpid()}_{next(_databases)}"}


Key = tuple[str, ...]


@pytest.fixture(scope="session")
def gradings(tmp_path_factory: pytest.TempPathFactory) -> dict[Key, Grading]:
    """Every grading the integrity tests judge, run once per session, two at a time."""
    jobs: dict[Key, Callable[[], Grading]] = {}
    starter = starter_tree(tmp_path_factory.mktemp("starter") / "katas")
    jobs[("starter",)] = lambda: grade(["katas"], kata_root=starter, env=grading_env())
    jobs[("solutions",)] = lambda: grade(["katas", "--solutions"], env=grading_env())
    for kata in load_katas():
        for decoy in kata.decoys:
            tree = decoy_tree(kata.slug, decoy, tmp_path_factory.mktemp(f"{kata.slug}-{decoy}"))
            jobs[("decoy", kata.slug, decoy)] = lambda slug=kata.slug, tree=tree: grade(
                [f"katas/{slug}"], kata_root=tree, env=grading_env()
            )
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        futures = {key: pool.submit(job) for key, job in jobs.items()}
        return {key: future.result() for key, future in futures.items()}


@pytest.fixture(scope="session")
def on_postgresql() -> bool:
    return os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://"))
