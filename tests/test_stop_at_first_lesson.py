"""`DOJO_STOP_AT_FIRST_LESSON=1`: a kata's grading ends at its first failed lesson or guard check.

The integrity tests grade every decoy this way: a decoy is rejected once one lesson or guard check
fails, and the checks after it would only tell the same. A kata that passes runs every check, and
checks that never ran count against a kata unless one of them was a rejection.
"""

import shutil
from pathlib import Path

from dojo import paths, trees
from dojo.manifest import load_katas
from dojo.results import KataStatus, Kind
from dojo.runner import grade

from .conftest import grading_env

KATA = next(kata for kata in load_katas() if kata.slug == "timestamps_and_names")
STOP = {"DOJO_STOP_AT_FIRST_LESSON": "1"}


def test_a_rejected_kata_stops_at_its_first_failed_lesson_and_a_solved_one_runs_every_check(tmp_path: Path) -> None:
    decoy = next(iter(KATA.decoys))
    rejected = trees.patched_tree(KATA.slug, KATA.decoy_path(decoy), tmp_path / "decoy")
    solved = tmp_path / "solved"
    shutil.copytree(paths.SOLUTIONS / KATA.slug, solved / KATA.slug, ignore=shutil.ignore_patterns("__pycache__"))
    target = [f"katas/{KATA.slug}"]

    full = grade(target, kata_root=rejected, env=grading_env()).katas[KATA.slug]
    stopped = grade(target, kata_root=rejected, env={**grading_env(), **STOP}).katas[KATA.slug]
    reference = grade(target, kata_root=solved, env={**grading_env(), **STOP}).katas[KATA.slug]

    # a failed behaviour check does not stop the grading; the first failed lesson or guard check does
    failed = [test.kind for test in stopped.tests if test.outcome == "failed"]
    assert stopped.status == KataStatus.FAILING
    assert [kind in (Kind.LESSON, Kind.GUARD) for kind in failed] == [False] * (len(failed) - 1) + [True], failed
    assert Kind.BEHAVIOUR in failed  # this decoy fails one before its lesson
    assert len(stopped.tests) < len(full.tests)
    assert all(test.kind != Kind.HARNESS for test in stopped.tests), "the checks left out were taken for tampering"
    assert reference.status == KataStatus.SOLVED
    assert len(reference.tests) == len(full.tests)
