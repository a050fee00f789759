"""Reset and restore: nothing a learner wrote is lost, and nothing outside the kata's folder is touched."""

import filecmp
import os
import shutil
import stat
from pathlib import Path

import pytest

from dojo import backups

from .clones import Run, repo, run, starter, template

__all__ = ["repo", "run", "template"]  # fixtures


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("name", ["20260302T100000Z-.", "20260302T100000Z-..", "20260302T100000Z-no_such_kata"])
def test_a_backup_folder_named_after_no_kata_is_not_a_backup(repo: Path, run: Run, name: str) -> None:
    made = repo / ".dojo" / "backups" / name
    made.mkdir(parents=True)
    (made / "services.py").write_text("# a stray file\n", encoding="utf-8")
    before = {tree: snapshot(repo / tree) for tree in ("katas", "solutions", "graders")}

    status, _, err = run("restore", name)

    assert status == 2
    assert "There is no backup named" in err
    assert name not in run("backups")[1]
    assert {tree: snapshot(repo / tree) for tree in ("katas", "solutions", "graders")} == before
    assert not (repo / ".dojo" / "backups" / "dojo").exists()


def test_a_backup_that_is_a_link_is_not_restored(repo: Path, run: Run, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "services.py").write_text("# not a backup\n", encoding="utf-8")
    (repo / ".dojo" / "backups").mkdir(parents=True)
    (repo / ".dojo" / "backups" / "20260302T100000Z-n_plus_one").symlink_to(elsewhere)
    assert run("restore", "20260302T100000Z-n_plus_one")[0] == 2
    assert (repo / "katas" / "n_plus_one" / "services.py").read_text() == starter(repo, "katas/n_plus_one/services.py")


def test_restore_keeps_executable_bits_and_empty_folders(repo: Path, run: Run) -> None:
    folder = repo / "katas" / "n_plus_one"
    script = folder / "try.sh"
    script.write_text("#!/bin/sh\n", encoding="utf-8")
    script.chmod(0o755)
    (folder / "notes" / "later").mkdir(parents=True)
    assert run("reset", "n_plus_one")[0] == 0
    assert not script.exists()
    [backup] = backups.list_backups("n_plus_one")

    assert run("restore", backup.name)[0] == 0

    assert os.stat(script).st_mode & stat.S_IXUSR
    assert (folder / "notes" / "later").is_dir()


def test_reset_of_a_kata_folder_that_is_now_a_file_backs_it_up_first(repo: Path, run: Run) -> None:
    folder = repo / "katas" / "n_plus_one"
    shutil.rmtree(folder)
    folder.write_text("what I wrote, in the wrong place\n", encoding="utf-8")

    status, out, err = run("reset", "n_plus_one")

    assert status == 0, err
    assert (folder / "services.py").read_text() == starter(repo, "katas/n_plus_one/services.py")
    [backup] = backups.list_backups("n_plus_one")
    assert (backup.path / "n_plus_one").read_text() == "what I wrote, in the wrong place\n"
    assert f"uv run dojo restore {backup.name}" in out


def test_reset_of_a_kata_folder_that_is_a_link_leaves_what_it_points_to(repo: Path, run: Run, tmp_path: Path) -> None:
    folder = repo / "katas" / "n_plus_one"
    mine = tmp_path / "my-work"
    shutil.copytree(folder, mine)
    (mine / "services.py").write_text("# mine, elsewhere\n", encoding="utf-8")
    shutil.rmtree(folder)
    folder.symlink_to(mine, target_is_directory=True)
    kept = snapshot(mine)

    status, _, err = run("reset", "n_plus_one")

    assert status == 0, err
    assert not folder.is_symlink()
    assert (folder / "services.py").read_text() == starter(repo, "katas/n_plus_one/services.py")
    assert snapshot(mine) == kept  # the link's target is the learner's, untouched
    [backup] = backups.list_backups("n_plus_one")
    assert (backup.path / "services.py").read_text() == "# mine, elsewhere\n"


def test_reset_of_a_broken_link_keeps_the_link(repo: Path, run: Run) -> None:
    folder = repo / "katas" / "n_plus_one"
    shutil.rmtree(folder)
    folder.symlink_to("/nonexistent/work")
    assert run("reset", "n_plus_one")[0] == 0
    assert (folder / "services.py").is_file()
    [backup] = backups.list_backups("n_plus_one")
    assert os.readlink(backup.path / "n_plus_one") == "/nonexistent/work"


def test_a_failed_backup_changes_nothing(repo: Path, run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    (repo / "katas" / "n_plus_one" / "services.py").write_text("# mine\n", encoding="utf-8")

    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(backups, "_copy_into", refuse)

    status, _, err = run("reset", "n_plus_one")

    assert status == 1
    assert "could not be backed up" in err
    assert "nothing was changed" in err
    assert (repo / "katas" / "n_plus_one" / "services.py").read_text() == "# mine\n"


def test_restore_replaces_only_the_kata_folder(repo: Path, run: Run) -> None:
    (repo / "katas" / "n_plus_one" / "services.py").write_text("# mine\n", encoding="utf-8")
    assert run("reset", "n_plus_one")[0] == 0
    others = {p.name: snapshot(p) for p in (repo / "katas").iterdir() if p.name != "n_plus_one"}
    [backup] = backups.list_backups("n_plus_one")

    assert run("restore", "n_plus_one")[0] == 0  # a slug: its newest backup

    assert (repo / "katas" / "n_plus_one" / "services.py").read_text() == "# mine\n"
    assert {p.name: snapshot(p) for p in (repo / "katas").iterdir() if p.name != "n_plus_one"} == others
    assert filecmp.cmp(backup.path / "services.py", repo / "katas" / "n_plus_one" / "services.py", shallow=False)
    assert not list((repo / ".dojo" / "tmp").iterdir())  # nothing left half-way
