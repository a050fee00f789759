"""One kata's code cannot break, hang or fool the grading of another: each kata in a process of its own.

Every fault is laid into a copy of the reference solutions (`--kata-root`); the whole tree is graded,
and the broken kata alone must fail, with a message that names its file, while every other kata is
still graded and the run's exit code is not 0.
"""

import shutil
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from dojo import paths
from dojo.manifest import load_katas
from dojo.results import KataStatus
from dojo.runner import Grading, grade

from .conftest import grading_env

BOM = "\ufeff"
LOAD_TIMEOUT = "10"  # far above a healthy load, even on a busy machine
PATCH_THE_COUNTERS = """
import contextlib

import django.test.utils

import dojo.grading


class _NothingCounted(list):
    count = 0

    def describe(self) -> str:
        return ""


@contextlib.contextmanager
def _count_nothing(*args, **kwargs):
    yield _NothingCounted()


dojo.grading.count_queries = _count_nothing
django.test.utils.CaptureQueriesContext.__exit__ = lambda self, *exc: None
"""


def prepend(path: Path, text: str) -> None:
    path.write_text(text + path.read_text(encoding="utf-8"), encoding="utf-8")


def append(path: Path, text: str) -> None:
    path.write_text(path.read_text(encoding="utf-8") + text, encoding="utf-8")


def with_bom(path: Path) -> None:
    path.write_text(BOM + path.read_text(encoding="utf-8"), encoding="utf-8")


#: kata -> how it is broken, and the words its failure must contain (besides the file's name)
FAULTS: dict[str, tuple[str, Callable[[Path], object], tuple[str, ...]]] = {
    "atomic_invariants": (
        "models.py",
        lambda kata: prepend(kata / "models.py", "import sys\n\nsys.exit(0)\n"),
        ("sys.exit(0) at line 3",),
    ),
    "cursor_pagination": (
        "models.py",
        lambda kata: prepend(kata / "models.py", "import os\n\nos._exit(0)\n"),
        ("os._exit(0) at line 3",),
    ),
    "error_envelope": (
        "services.py",
        lambda kata: prepend(kata / "services.py", "import sys\n\nsys.exit(0)\n"),
        ("sys.exit(0) at line 3",),
    ),
    "quadratic_reconciliation": (
        "services.py",
        lambda kata: prepend(kata / "services.py", "import os\n\nos._exit(0)\n"),
        ("os._exit(0) at line 3",),
    ),
    "raw_sql_injection": (
        "services.py",
        # one line, so that wherever the loop is caught, the line shown is the loop
        lambda kata: append(kata / "services.py", "\n\nwhile True: pass  # noqa: E701\n"),
        (f"did not finish within {LOAD_TIMEOUT} s", "at line", "while True: pass"),
    ),
    "utc_datetimes": (
        "__init__.py",
        lambda kata: (kata / "__init__.py").write_text("import nowhere_to_be_found\n", encoding="utf-8"),
        ("No module named 'nowhere_to_be_found'",),
    ),
    "webhook_idempotency": (
        "services.py",
        lambda kata: prepend(kata / "services.py", "import nonexistent  # noqa\n"),
        ("No module named 'nonexistent'",),
    ),
}
PATCHER = "service_authorization"  # its models.py patches the query counters of every grader
BOM_KATA = "missing_index"  # a UTF-8 BOM in its models and its index migration: valid Python


def solved_tree(destination: Path, slugs: list[str]) -> Path:
    for slug in slugs:
        shutil.copytree(paths.SOLUTIONS / slug, destination / slug, ignore=shutil.ignore_patterns("__pycache__"))
    return destination


def faulty(tree: Path, slug: str) -> Path:
    FAULTS[slug][1](tree / slug)
    return tree


@pytest.fixture(scope="module")
def gradings(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Grading]:
    """The whole broken tree once, and each exit-like fault next to one healthy kata, side by side."""
    everything = solved_tree(tmp_path_factory.mktemp("broken"), [kata.slug for kata in load_katas()])
    for slug in FAULTS:
        faulty(everything, slug)
    append(everything / PATCHER / "models.py", PATCH_THE_COUNTERS)
    shutil.rmtree(everything / "n_plus_one")  # the starter, whose lesson is the query count
    shutil.copytree(paths.KATAS / "n_plus_one", everything / "n_plus_one", ignore=shutil.ignore_patterns("__pycache__"))
    # in the files the learner edits (a BOM in a shipped context file is an edit the kata's guard reports)
    for name in next(kata for kata in load_katas() if kata.slug == BOM_KATA).files:
        with_bom(everything / BOM_KATA / name)
    env = {**grading_env(), "DOJO_LOAD_TIMEOUT": LOAD_TIMEOUT}
    jobs: dict[str, Callable[[], Grading]] = {"all": lambda: grade(["katas"], kata_root=everything, env=env)}
    for slug in ("atomic_invariants", "cursor_pagination", "error_envelope", "quadratic_reconciliation"):
        pair = faulty(solved_tree(tmp_path_factory.mktemp(slug), [slug, "on_commit_events"]), slug)

        def job(pair: Path = pair, slug: str = slug) -> Grading:
            return grade([f"katas/{slug}", "katas/on_commit_events"], kata_root=pair, env=env)

        jobs[slug] = job
    spawned = faulty(
        solved_tree(tmp_path_factory.mktemp("spawned"), ["cursor_pagination", "on_commit_events"]), "cursor_pagination"
    )
    jobs["spawned"] = lambda: grade(
        ["katas/cursor_pagination", "katas/on_commit_events"], kata_root=spawned, env={**env, "DOJO_START": "spawn"}
    )
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {name: pool.submit(job) for name, job in jobs.items()}
        return {name: future.result() for name, future in futures.items()}


@pytest.mark.parametrize("slug", list(FAULTS))
def test_a_fault_fails_its_kata_alone_naming_the_file(slug: str, gradings: dict[str, Grading]) -> None:
    grading = gradings["all"]
    result = grading.katas[slug]
    assert result.status == KataStatus.BROKEN, result
    message = "\n".join(test.message for test in result.tests if test.broken)
    file, _break, words = FAULTS[slug]
    assert f"{slug}/{file}" in message, message
    for word in words:
        assert word in message, message
    assert grading.exit_code == 1


def test_every_other_kata_is_still_graded(gradings: dict[str, Grading]) -> None:
    grading = gradings["all"]
    others = {kata.slug for kata in load_katas()} - set(FAULTS) - {PATCHER, "n_plus_one"}
    not_graded = {
        slug: [(test.test, test.message) for test in grading.katas[slug].tests if test.outcome != "passed"]
        for slug in others
        if grading.katas[slug].status not in (KataStatus.SOLVED, KataStatus.INCOMPLETE)
    }
    assert not_graded == {}


def test_a_byte_order_mark_is_read_as_python_reads_it(gradings: dict[str, Grading]) -> None:
    result = gradings["all"].katas[BOM_KATA]
    assert result.status == KataStatus.SOLVED, [(t.test, t.message) for t in result.tests if t.outcome != "passed"]


def test_patching_a_grading_helper_cannot_pass_another_kata(gradings: dict[str, Grading]) -> None:
    result = gradings["all"].katas["n_plus_one"]
    assert result.status == KataStatus.FAILING
    assert result.outcome_of("test_query_count_is_within_budget") == "failed"


@pytest.mark.parametrize(
    "slug", ["atomic_invariants", "cursor_pagination", "error_envelope", "quadratic_reconciliation"]
)
def test_an_exit_in_one_kata_never_makes_the_run_pass(slug: str, gradings: dict[str, Grading]) -> None:
    grading = gradings[slug]
    assert grading.katas[slug].status == KataStatus.BROKEN
    assert grading.katas["on_commit_events"].status == KataStatus.SOLVED
    assert grading.exit_code == 1
    assert "1 failed" in grading.output.splitlines()[-1]


def test_spawned_children_grade_the_same(gradings: dict[str, Grading]) -> None:
    grading = gradings["spawned"]
    assert "each in a process of its own (started" in grading.output
    assert grading.katas["cursor_pagination"].status == KataStatus.BROKEN
    assert "os._exit(0) at line 3" in grading.katas["cursor_pagination"].tests[-1].message
    assert grading.katas["on_commit_events"].status == KataStatus.SOLVED
    assert grading.exit_code == 1


def test_in_process_grading_still_works(tmp_path: Path) -> None:
    tree = solved_tree(tmp_path, ["on_commit_events", "webhook_idempotency"])
    faulty(tree, "webhook_idempotency")
    grading = grade(
        ["katas/on_commit_events", "katas/webhook_idempotency"],
        kata_root=tree,
        env={**grading_env(), "DOJO_IN_PROCESS": "1"},
    )
    assert "each in a process of its own" not in grading.output
    assert grading.katas["on_commit_events"].status == KataStatus.SOLVED
    assert grading.katas["webhook_idempotency"].status == KataStatus.BROKEN
    assert "No module named 'nonexistent'" in grading.katas["webhook_idempotency"].tests[0].message
    assert grading.exit_code == 1
