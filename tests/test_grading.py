"""The grading helpers that graders rely on, tested on kata trees of our own making."""

import re
import shutil
from pathlib import Path

import pytest
from django.db import DataError, connection

from dojo import paths
from dojo.grading import NUL_REFUSED, kata_dir, nul_refused_as_on_postgresql, unexpected_edits

FLAT = "n_plus_one"  # a kata whose learner edits services.py only
NESTED = "timestamps_and_names"  # a kata with migrations, one of them among the files to edit
NESTED_FILES = ("models.py", "services.py", "migrations/0002_singular_names_and_timestamps.py")


@pytest.fixture
def graded_tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A tree to grade holding both katas as shipped, with the starter's copies of the files to edit."""
    for slug in (FLAT, NESTED):
        shutil.copytree(paths.SOLUTIONS / slug, tmp_path / slug, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copyfile(paths.KATAS / FLAT / "services.py", tmp_path / FLAT / "services.py")
    monkeypatch.setenv("DOJO_KATA_ROOT", str(tmp_path))
    return tmp_path


def append(path: Path, text: str) -> None:
    path.write_bytes(path.read_bytes() + text.encode())


def test_the_tree_as_shipped_has_no_unexpected_edits(graded_tree: Path) -> None:
    assert kata_dir(FLAT) == graded_tree / FLAT
    assert unexpected_edits(FLAT, ("services.py",)) == []
    assert unexpected_edits(NESTED, NESTED_FILES) == []


def test_the_solutions_have_no_unexpected_edits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOJO_KATA_ROOT", str(paths.SOLUTIONS))

    assert unexpected_edits(FLAT, ("services.py",)) == []


def test_an_edit_to_the_files_to_edit_is_expected(graded_tree: Path) -> None:
    append(graded_tree / FLAT / "services.py", "\n# the learner's fix\n")

    assert unexpected_edits(FLAT, ("services.py",)) == []


def test_an_edit_outside_the_files_to_edit_is_named(graded_tree: Path) -> None:
    append(graded_tree / FLAT / "models.py", "\n# a custom manager would go here\n")

    assert unexpected_edits(FLAT, ("services.py",)) == ["models.py"]


def test_a_whitespace_only_edit_counts(graded_tree: Path) -> None:
    append(graded_tree / FLAT / "models.py", " ")

    assert unexpected_edits(FLAT, ("services.py",)) == ["models.py"]


def test_an_edit_in_a_subfolder_is_named_by_its_path(graded_tree: Path) -> None:
    append(graded_tree / NESTED / "migrations" / "0001_initial.py", "\n# rewritten history\n")
    append(graded_tree / NESTED / "migrations" / "0002_singular_names_and_timestamps.py", "\n# expected\n")

    assert unexpected_edits(NESTED, NESTED_FILES) == ["migrations/0001_initial.py"]


def test_a_new_file_is_allowed(graded_tree: Path) -> None:
    (graded_tree / FLAT / "helpers.py").write_text("HELPER = 1\n", encoding="utf-8")
    (graded_tree / NESTED / "migrations" / "0003_backfill.py").write_text("# a new migration\n", encoding="utf-8")

    assert unexpected_edits(FLAT, ("services.py",)) == []
    assert unexpected_edits(NESTED, NESTED_FILES) == []


def test_bytecode_is_ignored(graded_tree: Path) -> None:
    cache = graded_tree / FLAT / "__pycache__"
    cache.mkdir()
    (cache / "models.cpython-312.pyc").write_bytes(b"\x00compiled")
    (graded_tree / FLAT / "stray.pyc").write_bytes(b"\x00compiled")

    assert unexpected_edits(FLAT, ("services.py",)) == []


def test_a_deleted_file_is_named(graded_tree: Path) -> None:
    (graded_tree / FLAT / "models.py").unlink()

    assert unexpected_edits(FLAT, ("services.py",)) == ["models.py"]


def test_several_edits_are_all_named_in_order(graded_tree: Path) -> None:
    append(graded_tree / FLAT / "models.py", "\n")
    append(graded_tree / FLAT / "__init__.py", "\n")
    append(graded_tree / FLAT / "README.md", "\n")

    assert unexpected_edits(FLAT, ("services.py",)) == ["README.md", "__init__.py", "models.py"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("sql", "params"),
    [("SELECT %s", ["a\x00b"]), ("SELECT %s, %s", ("a", "\x00")), ("SELECT %(text)s", {"text": "\x00"})],
    ids=["list", "tuple", "dict"],
)
def test_a_query_with_a_nul_in_its_text_parameters_fails_as_on_postgresql(
    sql: str, params: list[str] | tuple[str, ...] | dict[str, str]
) -> None:
    with (
        nul_refused_as_on_postgresql(),
        connection.cursor() as cursor,
        pytest.raises(DataError, match=re.escape(NUL_REFUSED)),
    ):
        cursor.execute(sql, params)


@pytest.mark.django_db
def test_text_without_a_nul_and_bytes_with_one_still_reach_the_database() -> None:
    with nul_refused_as_on_postgresql(), connection.cursor() as cursor:
        cursor.execute("SELECT %s, %s", ["plain text", b"a\x00b"])
        assert cursor.fetchone() == ("plain text", b"a\x00b")
