"""`dojo.trees`, the one owner of the starter as shipped: the lock, and content that survives a learner's
commits and a download without git."""

import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from dojo import backups, paths, trees

from .clones import GIT, Run, repo, run, solve, starter, template

__all__ = ["repo", "run", "template"]  # fixtures


def _git_entries() -> dict[str, dict[str, trees.Entry]] | None:
    """`katas/` as git's index holds it (what the next commit ships), or None outside a git checkout."""
    listed = subprocess.run(
        ["git", "ls-files", "-s", "-z", "--", "katas"], cwd=paths.HOME.root, capture_output=True, check=False
    )
    if listed.returncode != 0:
        return None
    found: dict[str, dict[str, trees.Entry]] = {}
    for record in filter(None, listed.stdout.decode().split("\0")):
        meta, name = record.split("\t", 1)
        mode, blob, _stage = meta.split()
        _katas, slug, inside = name.split("/", 2)
        found.setdefault(slug, {})[inside] = trees.Entry(blob=blob, mode=mode)
    return found


def test_the_lock_is_in_step_with_the_katas() -> None:
    """Every kata's lock entry matches what git will ship (its index) or the folder as it is on disk."""
    with paths.use_repo(paths.HOME.root):
        locked = trees.read_lock()
        on_disk = json.loads(json.dumps(trees.lock_document(paths.HOME.katas)))["katas"]
        in_git = _git_entries()
        if in_git is None:  # a download: every locked file's content must be at hand
            for slug in locked:
                assert trees.shipped_files(slug)
            return
        stale = []
        for slug in sorted(set(locked) | set(in_git) | set(on_disk)):
            disk = {name: trees.Entry(**entry) for name, entry in on_disk.get(slug, {}).items()}
            if locked.get(slug) not in (in_git.get(slug), disk):
                stale.append(slug)
    assert not stale, (
        f"katas.lock is out of step with katas/ for {', '.join(stale)}. After changing a starter, refresh it: "
        f"{trees.WRITE_LOCK}"
    )


def test_blob_ids_are_gits(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_bytes(b"print('hello')\n")
    hashed = subprocess.run(["git", "hash-object", str(sample)], capture_output=True, text=True, check=True)
    assert trees.blob_id(sample.read_bytes()) == hashed.stdout.strip()


def test_the_starter_survives_a_learner_who_commits_their_work(repo: Path, run: Run) -> None:
    shipped = trees.shipped_files("n_plus_one")
    solve(repo, "n_plus_one", extra="# mine\n")
    subprocess.run([*GIT, "commit", "-qam", "my solution"], cwd=repo, check=True)
    assert starter(repo, "katas/n_plus_one/services.py").endswith("# mine\n")  # HEAD is the learner's now

    assert trees.shipped_files("n_plus_one") == shipped
    assert trees.changed_files("n_plus_one") == ["services.py"]
    assert "# mine" not in trees.lesson_diff("n_plus_one")

    assert run("reset", "n_plus_one")[0] == 0
    assert (repo / "katas" / "n_plus_one" / "services.py").read_bytes() == shipped["services.py"]


def test_the_starter_survives_a_download_without_git(repo: Path, run: Run) -> None:
    shipped = trees.shipped_files("n_plus_one")
    shutil.rmtree(repo / ".git")
    assert trees.shipped_files("n_plus_one") == shipped  # unchanged: the working files are the starter
    assert run("list")[0] == 0  # the first command keeps a snapshot of the unchanged starters
    assert (repo / ".dojo" / "starters" / "n_plus_one" / "services.py").read_bytes() == shipped["services.py"]

    solve(repo, "n_plus_one")
    assert trees.shipped_files("n_plus_one") == shipped
    assert run("reset", "n_plus_one")[0] == 0
    assert (repo / "katas" / "n_plus_one" / "services.py").read_bytes() == shipped["services.py"]


def test_without_git_or_a_snapshot_a_changed_starter_is_a_clear_error(repo: Path, run: Run) -> None:
    shutil.rmtree(repo / ".git")
    (repo / "katas" / "n_plus_one" / "services.py").write_text("# mine\n", encoding="utf-8")
    with pytest.raises(trees.StarterError, match=r"katas/n_plus_one/ cannot be found for services\.py"):
        trees.shipped_files("n_plus_one")

    status, _, err = run("reset", "n_plus_one")
    assert status == 1
    assert "Your files are untouched" in err
    assert "copy katas/n_plus_one/ from a fresh download or clone" in err
    assert (repo / "katas" / "n_plus_one" / "services.py").read_text() == "# mine\n"
    assert not (repo / ".dojo" / "backups").exists()


def test_a_snapshot_that_does_not_match_the_lock_is_not_used(repo: Path) -> None:
    shipped = trees.shipped_files("n_plus_one")
    shutil.rmtree(repo / ".git")
    trees.keep_snapshots()
    (repo / ".dojo" / "starters" / "n_plus_one" / "services.py").write_text("# tampered\n", encoding="utf-8")
    assert trees.shipped_files("n_plus_one") == shipped  # the working file still matches: it is used instead
    (repo / "katas" / "n_plus_one" / "services.py").write_text("# mine\n", encoding="utf-8")
    with pytest.raises(trees.StarterError):
        trees.shipped_files("n_plus_one")


def test_changed_missing_and_extra_files_compare_the_learners_copy_with_the_starter(repo: Path) -> None:
    folder = repo / "katas" / "n_plus_one"
    assert (trees.changed_files("n_plus_one"), trees.missing_files("n_plus_one")) == ([], [])
    assert trees.extra_files("n_plus_one") == []

    (folder / "services.py").write_text("# mine\n", encoding="utf-8")
    (folder / "models.py").unlink()
    (folder / "helper.py").write_text("# a file of mine\n", encoding="utf-8")
    (folder / "__pycache__").mkdir()
    (folder / "__pycache__" / "services.cpython-312.pyc").write_bytes(b"\0")

    assert trees.changed_files("n_plus_one") == ["services.py"]
    assert trees.missing_files("n_plus_one") == ["models.py"]
    assert trees.extra_files("n_plus_one") == ["helper.py"]


def test_the_lesson_diff_goes_from_the_starter_as_shipped_to_the_solution(repo: Path) -> None:
    """The site's spoiler showed the learner's edits: the lesson is the shipped starter against the solution."""
    before = trees.lesson_diff("n_plus_one")
    assert before.startswith("--- katas/n_plus_one/services.py\n+++ solutions/n_plus_one/services.py\n")
    assert '+        .select_related("customer")' in before

    solve(repo, "n_plus_one", extra="# my own note\n")
    (repo / "katas" / "n_plus_one" / "helper.py").write_text("# a file of mine\n", encoding="utf-8")
    assert trees.lesson_diff("n_plus_one") == before
    assert "-# my own note" in trees.learner_diff("n_plus_one")


def test_the_starter_tree_is_every_kata_as_shipped(repo: Path, tmp_path: Path) -> None:
    solve(repo, "n_plus_one")
    (repo / "katas" / "n_plus_one" / "helper.py").write_text("# a file of mine\n", encoding="utf-8")

    tree = trees.starter_tree(tmp_path / "katas")

    assert sorted(p.name for p in tree.iterdir()) == sorted(trees.read_lock())
    assert not (tree / "n_plus_one" / "helper.py").exists()
    for slug, files in trees.read_lock().items():
        assert sorted(files) == trees.working_files(tree / slug)
    assert (tree / "n_plus_one" / "services.py").read_text() == starter(repo, "katas/n_plus_one/services.py")


def test_modes_are_shipped_and_restored(repo: Path, run: Run, tmp_path: Path) -> None:
    script = repo / "katas" / "n_plus_one" / "check.sh"
    script.write_text("#!/bin/sh\necho ok\n", encoding="utf-8")
    script.chmod(0o755)
    trees.write_lock()
    assert trees.read_lock()["n_plus_one"]["check.sh"].mode == trees.EXECUTABLE

    tree = trees.starter_tree(tmp_path / "katas")
    assert os.stat(tree / "n_plus_one" / "check.sh").st_mode & stat.S_IXUSR

    script.chmod(0o644)
    backups.reset("n_plus_one")
    assert os.stat(script).st_mode & stat.S_IXUSR
