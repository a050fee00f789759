"""A kata graded again from another folder gets the verdict of its first grading: no cache carries a
finding of one run, under that run's paths, into the next.

type_hints runs mypy, whose cache once did: on a second run it reported an unchanged module's errors
under the folder of the run that cached them, so the grader lost them. The reference then failed, and
the starter's own mypy errors vanished.
"""

import shutil
from pathlib import Path

import pytest

from dojo import paths, trees
from dojo.results import KataStatus
from dojo.runner import Grading, grade

from .conftest import grading_env

KATA = "type_hints"
MYPY_CHECKS = ("test_mypy_strict_is_clean", "test_the_signatures_carry_the_contracts_types")


def solved(destination: Path) -> Path:
    shutil.copytree(paths.SOLUTIONS / KATA, destination / KATA, ignore=shutil.ignore_patterns("__pycache__"))
    return destination


def graded(tree: Path) -> Grading:
    return grade([f"katas/{KATA}"], kata_root=tree, env=grading_env())


@pytest.mark.heavy
def test_a_second_grading_from_another_folder_keeps_every_finding(tmp_path: Path) -> None:
    """The reference, then the starter, each graded twice in a row, from two folders."""
    references = [graded(solved(tmp_path / f"solved-{run}")).katas[KATA] for run in (1, 2)]
    starters = [graded(trees.starter_tree(tmp_path / f"starter-{run}")).katas[KATA] for run in (1, 2)]
    for reference in references:
        assert reference.status == KataStatus.SOLVED, [(t.test, t.message) for t in reference.tests]
    for starter in starters:
        assert [starter.outcome_of(check) for check in MYPY_CHECKS] == ["failed", "failed"]
