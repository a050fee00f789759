"""The learner's state in `.dojo/`: whatever state it is in, `dojo` says what happened and goes on."""

import json
import os
import tempfile
from pathlib import Path

import pytest

from .clones import Run, repo, run, state, template, write_results

__all__ = ["repo", "run", "template"]  # fixtures


@pytest.mark.parametrize(
    "damage",
    [
        b"{not json",
        b'{"katas": {"n_plus_one": {"hints_shown": "many"}}}',
        b"[]",
        b"\xff\xfe{\x00",
        b"\x80 latin-1 \xe9",
    ],
    ids=["not-json", "wrong-shape", "a-list", "utf-16", "not-utf-8"],
)
def test_a_corrupt_state_file_is_set_aside_and_rebuilt(repo: Path, run: Run, damage: bytes) -> None:
    (repo / ".dojo").mkdir()
    (repo / ".dojo" / "state.json").write_bytes(damage)
    (repo / ".dojo" / "results.json").write_text("garbage", encoding="utf-8")

    status, out, err = run("hint", "n_plus_one")

    assert status == 0
    assert "Hint 1 of 3" in out
    assert "state.json was unreadable and has been rebuilt" in err
    assert len(err.strip().splitlines()) == 1
    assert state(repo)["katas"]["n_plus_one"]["hints_shown"] == 1
    assert (repo / ".dojo" / "state.json.corrupt").read_bytes() == damage
    status, _, err = run("list")
    assert status == 0
    assert err == ""


def test_a_state_file_that_is_a_folder_is_set_aside_too(repo: Path, run: Run) -> None:
    (repo / ".dojo" / "state.json").mkdir(parents=True)
    status, out, err = run("hint", "n_plus_one")
    assert status == 0
    assert "Hint 1 of 3" in out
    assert "state.json was unreadable and has been rebuilt" in err
    assert (repo / ".dojo" / "state.json.corrupt").is_dir()
    assert state(repo)["katas"]["n_plus_one"]["hints_shown"] == 1


def test_a_dojo_folder_that_is_a_file_is_set_aside_and_started_again(repo: Path, run: Run) -> None:
    (repo / ".dojo").write_text("not a folder\n", encoding="utf-8")

    status, out, err = run("hint", "n_plus_one")

    assert status == 0
    assert "Hint 1 of 3" in out
    assert ".dojo was a file, not the folder where dojo keeps your progress: it is kept as .dojo.not-a-folder" in err
    assert (repo / ".dojo.not-a-folder").read_text() == "not a folder\n"
    assert state(repo)["katas"]["n_plus_one"]["hints_shown"] == 1


def test_a_read_only_dojo_folder_gives_a_clear_note_and_the_command_still_works(
    repo: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = repo / ".dojo"
    folder.mkdir()
    folder.chmod(0o555)
    if os.geteuid() == 0:  # the mode bits do not stop root: refuse the write as the kernel would
        refused = PermissionError(13, "Permission denied")

        def read_only(*args: object, **kwargs: object) -> object:
            raise refused

        monkeypatch.setattr(tempfile, "NamedTemporaryFile", read_only)
    try:
        status, out, err = run("hint", "n_plus_one")
        assert status == 0
        assert "Hint 1 of 3" in out  # the hint is shown, not remembered
        assert "Could not write .dojo/state.json (Permission denied): your progress is not saved." in err
        assert "chmod u+w .dojo" in err
        assert "Traceback" not in out + err
    finally:
        folder.chmod(0o755)
        monkeypatch.setattr(tempfile, "NamedTemporaryFile", tempfile.NamedTemporaryFile)
    assert not (folder / "state.json").exists()


@pytest.mark.parametrize("count", [-5, -1, 3, 4, 10**6])
def test_a_hint_count_out_of_range_is_clamped(repo: Path, run: Run, count: int) -> None:
    (repo / ".dojo").mkdir()
    (repo / ".dojo" / "state.json").write_text(
        json.dumps({"version": 1, "katas": {"n_plus_one": {"hints_shown": count, "attempts": count}}}),
        encoding="utf-8",
    )
    write_results(repo, {"n_plus_one": "failing"})

    status, out, err = run("hint", "n_plus_one")

    assert status == 0, err
    assert ("Hint 1 of 3" if count < 0 else "No more hints") in out
    assert "Traceback" not in err
    assert run("hint", "--all", "n_plus_one")[0] == 0
    listed = json.loads(run("progress", "--json")[1])["katas"][0]
    assert 0 <= listed["hints_used"] <= 3
    assert listed["attempts"] >= 0
