"""Kata code runs in the grading process: a trick it plays on the grading is seen, undone and said."""

import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from dojo import paths, tamper
from dojo.results import KataStatus
from dojo.runner import Grading, grade

from .conftest import grading_env

PATCHES_THE_HARNESS = """
import dojo.grading


def forged_count(*args, **kwargs):
    raise AssertionError("never called")


dojo.grading.count_queries = forged_count
"""
REGISTERS_A_PLUGIN = """
import gc

import pytest


class AllGreen:
    def pytest_runtest_logreport(self, report):
        report.outcome = "passed"


for config in [thing for thing in gc.get_objects() if isinstance(thing, pytest.Config)]:
    config.pluginmanager.register(AllGreen(), "all-green")
"""
WRITES_ELSEWHERE = """
from pathlib import Path

from dojo import paths

refused = []
other_kata = Path(__file__).parent.parent / "thin_router"
for target in (paths.GRADERS / "thin_router" / "planted.py", other_kata / "services.py", paths.STATE / "results.json"):
    try:
        target.write_text("# planted")
    except PermissionError:
        refused.append(str(target))
"""
LEAVES_A_PROCESS = """
import subprocess
import sys
from pathlib import Path

_sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
(Path(__file__).parent / "sleeper.pid").write_text(str(_sleeper.pid))
"""
EXITS_EARLY = """

def monthly_statement(*args, **kwargs):
    import pytest

    pytest.exit("done here", returncode=0)
"""


def solved_copy(root: Path, *slugs: str) -> Path:
    for slug in slugs:
        shutil.copytree(paths.SOLUTIONS / slug, root / slug, ignore=shutil.ignore_patterns("__pycache__"))
    return root


def plant(kata: Path, name: str, code: str) -> None:
    (kata / name).write_text(code, encoding="utf-8")
    services = kata / "services.py"
    services.write_text(f"from . import {name.removesuffix('.py')}  # noqa: F401\n" + services.read_text())


@pytest.fixture(scope="module")
def tampered(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Grading]]:
    """One tree of solved katas, each with one trick in it; and a kata that ends its grading early."""
    tree = solved_copy(
        tmp_path_factory.mktemp("tampered"),
        "n_plus_one",
        "cursor_pagination",
        "thin_router",
        "error_envelope",
    )
    plant(tree / "n_plus_one", "helpers.py", PATCHES_THE_HARNESS)
    plugin = solved_copy(tmp_path_factory.mktemp("plugin"), "missing_index")
    plant(plugin / "missing_index", "speedup.py", REGISTERS_A_PLUGIN)
    plant(tree / "cursor_pagination", "cache.py", WRITES_ELSEWHERE)
    plant(tree / "error_envelope", "worker.py", LEAVES_A_PROCESS)
    (tree / "thin_router" / "ruff.toml").write_text("lint.ignore = ['E']\n", encoding="utf-8")
    early = solved_copy(tmp_path_factory.mktemp("early"), "n_plus_one")
    services = early / "n_plus_one" / "services.py"
    services.write_text(services.read_text() + EXITS_EARLY, encoding="utf-8")
    targets = [f"katas/{slug}" for slug in ("n_plus_one", "cursor_pagination", "thin_router", "error_envelope")]
    jobs = {
        "tricks": lambda: grade(targets, kata_root=tree, env=grading_env()),
        # graded on its own: in a grading of several katas the plugin is not seen yet (a known gap)
        "plugin": lambda: grade(["katas/missing_index"], kata_root=plugin, env=grading_env()),
        "spawned, ended early": lambda: grade(
            ["katas/n_plus_one"], kata_root=early, env={**grading_env(), "DOJO_START": "spawn"}
        ),
        # a grading that may stop at the first failed lesson: no lesson failed, so the silence still counts
        "ended early, stopping allowed": lambda: grade(
            ["katas/n_plus_one"],
            kata_root=early,
            env={**grading_env(), "DOJO_START": "spawn", "DOJO_STOP_AT_FIRST_LESSON": "1"},
        ),
    }
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {name: pool.submit(job) for name, job in jobs.items()}
        return tree, {name: future.result() for name, future in futures.items()}


def verdict(grading: Grading, slug: str) -> str:
    result = grading.katas[slug]
    assert result.status is not KataStatus.SOLVED, f"{slug} passed silently:\n{grading.output[-3000:]}"
    checks = [test for test in result.tests if test.test == tamper.TEST]
    assert len(checks) == 1, f"{slug} was not reported as tampered with:\n{grading.output[-4000:]}"
    (check,) = checks
    assert check.outcome == "failed"
    assert check.message.startswith("Tampered: ")
    return check.message


def test_a_function_of_the_harness_replaced_by_kata_code_is_named_with_its_file_and_line(
    tampered: tuple[Path, dict[str, Grading]],
) -> None:
    message = verdict(tampered[1]["tricks"], "n_plus_one")
    assert "dojo.grading.count_queries was replaced" in message
    assert "n_plus_one/helpers.py, line 5" in message


def test_a_pytest_plugin_registered_by_kata_code_is_named(tampered: tuple[Path, dict[str, Grading]]) -> None:
    message = verdict(tampered[1]["plugin"], "missing_index")
    assert "a pytest plugin (all-green) was registered" in message
    assert "missing_index/speedup.py" in message


def test_writes_into_the_graders_another_kata_and_the_results_are_refused_and_named(
    tampered: tuple[Path, dict[str, Grading]],
) -> None:
    tree, gradings = tampered
    message = verdict(gradings["tricks"], "cursor_pagination")
    assert "a write into graders/thin_router/planted.py was refused (" in message
    assert "cursor_pagination/cache.py, line" in message
    assert "thin_router/services.py was refused" in message
    assert "results.json was refused" in message, "the learner's results are the harness's to write"
    assert not (paths.GRADERS / "thin_router" / "planted.py").exists()
    assert (tree / "thin_router" / "services.py").read_text() == (
        paths.SOLUTIONS / "thin_router" / "services.py"
    ).read_text()


def test_a_configuration_file_in_a_kata_folder_is_refused(tampered: tuple[Path, dict[str, Grading]]) -> None:
    message = verdict(tampered[1]["tricks"], "thin_router")
    assert "thin_router/ruff.toml is a configuration file in the kata's folder" in message


def test_a_process_that_kata_code_leaves_running_is_ended_with_the_grading(
    tampered: tuple[Path, dict[str, Grading]],
) -> None:
    tree, gradings = tampered
    message = verdict(gradings["tricks"], "error_envelope")
    assert "still ran, and were ended" in message
    pid = int((tree / "error_envelope" / "sleeper.pid").read_text())
    stat = Path(f"/proc/{pid}/stat")
    assert not stat.exists() or stat.read_text().rsplit(")", 1)[1].split()[0] in ("Z", "X"), "the sleeper still runs"


def test_a_grading_that_ends_before_every_check_reported_does_not_solve_the_kata(
    tampered: tuple[Path, dict[str, Grading]],
) -> None:
    for grading in ("spawned, ended early", "ended early, stopping allowed"):
        message = verdict(tampered[1][grading], "n_plus_one")
        assert "checks never reported" in message, grading


def test_an_honest_grading_has_no_tampered_check(gradings_of_solutions: Grading) -> None:
    assert all(tamper.TEST not in {t.test for t in result.tests} for result in gradings_of_solutions.katas.values())


@pytest.fixture(scope="module")
def gradings_of_solutions() -> Grading:
    return grade(["katas/n_plus_one", "katas/webhook_idempotency", "--solutions"], env=grading_env())


def test_the_checksum_changes_with_any_file_of_the_kata(tmp_path: Path) -> None:
    kata = solved_copy(tmp_path, "n_plus_one") / "n_plus_one"
    first = tamper.checksum(kata)
    (kata / "__pycache__").mkdir()
    (kata / "__pycache__" / "x.pyc").write_bytes(b"bytecode")
    assert tamper.checksum(kata) == first, "bytecode is not the learner's work"
    (kata / "notes.txt").write_text("x")
    assert tamper.checksum(kata) != first
    os.remove(kata / "notes.txt")
    assert tamper.checksum(kata) == first


def test_each_result_records_the_checksum_of_the_files_it_graded(gradings_of_solutions: Grading) -> None:
    """A results file edited by hand, or kept from other files, does not match the files a lead grades again."""
    for slug, result in gradings_of_solutions.katas.items():
        assert result.files_sha256 == tamper.checksum(paths.SOLUTIONS / slug)
