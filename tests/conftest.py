import itertools
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import cast

import pytest

from dojo import paths
from dojo.manifest import load_katas
from dojo.runner import Grading, grade

from . import untouched
from .kata_trees import patched_tree, starter_tree

_databases = itertools.count(1)

#: Suites that need the maintainer group's tools (Playwright and LinkChecker, cosmic-ray, schemathesis):
#: left out of `uv run pytest`, run by `uv run --group maintainer pytest --heavy` (`.ci/run` does)
MAINTAINER_MODULES = ("test_browser.py", "test_mutate.py", "test_fuzz.py", "test_served_board.py", "test_load.py")
HEAVY = "the browser, mutation and fuzzing suites, the served workshop board, and every decoy and alternative"
TESTS = Path(__file__).resolve().parent
SNAPSHOT = pytest.StashKey[untouched.Snapshot]()
STATE = pytest.StashKey[Path]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--heavy",
        action="store_true",
        help=f"also run the heavy suites ({HEAVY}); they need `uv run --group maintainer`",
    )


def pytest_configure(config: pytest.Config) -> None:
    """The learner's state moves to a temporary folder for the session, and the checkout is snapshotted."""
    if hasattr(config, "workerinput") or os.environ.get(paths.STATE_VARIABLE):
        return
    state = Path(tempfile.mkdtemp(prefix="dojo-test-state-"))
    os.environ[paths.STATE_VARIABLE] = str(state)  # every grading process the tests start inherits it
    os.environ[paths.STATE_OWNER_VARIABLE] = str(paths.HOME.root)  # this clone's state only
    # hypothesis (the fuzzing suites, in this process and the ones they start) keeps its files there too
    os.environ["HYPOTHESIS_STORAGE_DIRECTORY"] = str(state / "hypothesis")
    config.stash[STATE] = state
    config.stash[SNAPSHOT] = untouched.snapshot(paths.HOME.root)


def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(STATE, None)
    if state is not None:
        os.environ.pop(paths.STATE_VARIABLE, None)
        os.environ.pop(paths.STATE_OWNER_VARIABLE, None)
        shutil.rmtree(state, ignore_errors=True)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A test that wrote into the checkout (the learner's `.dojo/`, `katas/`, …) fails the run, named."""
    before = session.config.stash.get(SNAPSHOT, None)
    if before is None:
        return
    changed = untouched.changes(before, untouched.snapshot(paths.HOME.root))
    if changed:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.section("the tests changed the checkout", sep="=", red=True)
            for line in changed[:50]:
                reporter.write_line(line, red=True)
            reporter.write_line(f"only {', '.join(untouched.CACHES)} may change (tests/untouched.py)")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    if collection_path.is_relative_to(TESTS) and collection_path.name in MAINTAINER_MODULES:
        return not config.getoption("heavy") or None
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("heavy"):
        return
    heavy = [item for item in items if item.get_closest_marker("heavy")]
    if heavy:
        config.hook.pytest_deselected(items=heavy)
        items[:] = [item for item in items if not item.get_closest_marker("heavy")]


def pytest_report_header(config: pytest.Config) -> str | None:
    if config.getoption("heavy"):
        return None
    return f"left out: {HEAVY}; `uv run --group maintainer pytest --heavy` runs them too"


def progress(config: pytest.Config, line: str) -> None:
    """A line on the terminal now, even from inside a fixture (for steps that take minutes)."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or capture is None:
        return
    with capture.global_and_fixture_disabled():
        reporter.write_line(line)


def grading_env() -> dict[str, str]:
    """Each grading process gets a test database of its own, so that runs can go in parallel."""
    if "DATABASE_URL" not in os.environ:
        return {}
    return {"DOJO_TEST_DB": f"test_dojo_{os.getpid()}_{next(_databases)}"}


Key = tuple[str, ...]


def _rounds(kind: str, wanted: set[tuple[str, str]]) -> dict[int, list[tuple[str, str]]]:
    """Round N holds the N-th wanted decoy (or alternative) of every kata that has one."""
    rounds: dict[int, list[tuple[str, str]]] = {}
    for kata in load_katas():
        names = kata.decoys if kind == "decoy" else kata.alternatives
        chosen = [name for name in names if (kata.slug, name) in wanted]
        for number, name in enumerate(chosen):
            rounds.setdefault(number, []).append((kata.slug, name))
    return rounds


#: which grading each integrity test of tests/test_katas.py judges, by the test function's name
GRADING_OF = {
    "test_solution_passes_every_check": "solutions",
    "test_starter_fails_its_lessons_and_nothing_else": "starter",
    "test_starter_failures_name_the_rule_and_its_page": "starter",
    "test_starter_failures_do_not_show_the_reference": "starter",
    "test_grader_rejects_decoy": "decoy",
    "test_grader_accepts_alternative": "alternative",
}


def _needed(items: list[pytest.Item]) -> tuple[set[str], dict[str, set[tuple[str, str]]]]:
    """The trees and the decoys and alternatives that the selected tests judge: only those are graded."""
    trees: set[str] = set()
    wanted: dict[str, set[tuple[str, str]]] = {"decoy": set(), "alternative": set()}
    for item in items:
        if "gradings" not in getattr(item, "fixturenames", ()) or item.get_closest_marker("skip"):
            continue
        kind = GRADING_OF.get(getattr(item, "originalname", item.name), "")
        params = getattr(getattr(item, "callspec", None), "params", {})
        if kind in wanted and "kata" in params:
            # a decoy's test is parametrized by `decoy`, an alternative's by `name`: one of them is there
            wanted[kind].add((params["kata"].slug, cast(str, params.get("decoy") or params.get("name"))))
        elif kind:
            trees.add(kind)
    return trees, wanted


@pytest.fixture(scope="session")
def gradings(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[Key, Grading]:
    """The gradings the selected integrity tests judge, run once per session, two at a time.

    Only what the selected tests need is graded (`-k n_plus_one` grades one kata's trees, the decoys
    are graded with `--heavy` only; each decoy's grading stops at its first failed lesson or guard
    check). Decoys and alternatives go in rounds: round N holds the N-th
    decoy of every kata that has one, each laid over its own kata's solution in one tree. Katas are
    separate apps, so one process grades the whole round, and a decoy that breaks its kata breaks no other.
    """
    katas = {kata.slug: kata for kata in load_katas()}
    trees, wanted = _needed(request.session.items)
    jobs: dict[Key, Callable[[], Grading]] = {}
    if "starter" in trees:
        starter = starter_tree(tmp_path_factory.mktemp("starter") / "katas")
        jobs[("starter",)] = lambda: grade(["katas"], kata_root=starter, env=grading_env())
    if "solutions" in trees:
        jobs[("solutions",)] = lambda: grade(["katas", "--solutions"], env=grading_env())
    rounds = {kind: _rounds(kind, wanted[kind]) for kind in ("decoy", "alternative")}
    for kind, kind_rounds in rounds.items():
        for number, members in kind_rounds.items():
            tree = tmp_path_factory.mktemp(f"{kind}s-{number}")
            for slug, name in members:
                kata = katas[slug]
                diff = kata.decoy_path(name) if kind == "decoy" else kata.alternative_path(name)
                patched_tree(slug, diff, tree)
            targets = [f"katas/{slug}" for slug, _name in members]
            # a decoy is rejected once a lesson or guard check fails: its kata's grading stops there
            env = {"DOJO_STOP_AT_FIRST_LESSON": "1"} if kind == "decoy" else {}

            def job(targets: list[str] = targets, tree: Path = tree, env: dict[str, str] = env) -> Grading:
                return grade(targets, kata_root=tree, env={**grading_env(), **env})

            jobs[(f"{kind}s", str(number))] = job
    progress(request.config, f"\ngrading {len(jobs)} trees for the integrity tests ({', '.join(map('-'.join, jobs))})")
    done: dict[Key, Grading] = {}
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        futures = {pool.submit(job): key for key, job in jobs.items()}
        for count, future in enumerate(as_completed(futures), start=1):
            key = futures[future]
            done[key] = future.result()
            if len(jobs) > 2:
                progress(request.config, f"  graded {'-'.join(key)} ({count} of {len(jobs)})")
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
