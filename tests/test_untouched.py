"""No test writes into the checkout: the learner's `.dojo/`, `katas/` and the rest stay as they were."""

import os
from pathlib import Path

from dojo import paths
from dojo.runner import grade

from . import untouched


def test_the_learner_state_is_a_temporary_folder_for_the_whole_session() -> None:
    moved = Path(os.environ[paths.STATE_VARIABLE])
    assert moved == paths.STATE
    assert not moved.is_relative_to(paths.HOME.root)
    assert paths.HOME.browser_cache == paths.HOME.root / ".dojo" / "browser-cache", "a cache, not the state"


def test_a_grading_of_the_real_katas_writes_its_results_in_the_moved_state_only() -> None:
    learner_results = paths.HOME.root / ".dojo" / "results.json"
    before = learner_results.stat().st_mtime_ns if learner_results.exists() else None
    grading = grade(["katas/thin_router"])
    assert "thin_router" in grading.katas, grading.output[-2000:]
    assert (Path(os.environ[paths.STATE_VARIABLE]) / "results.json").is_file()
    after = learner_results.stat().st_mtime_ns if learner_results.exists() else None
    assert before == after, "the learner's .dojo/results.json was written by a test"


def test_the_snapshot_names_every_file_added_changed_or_removed_but_not_the_caches(tmp_path: Path) -> None:
    (tmp_path / "katas" / "n_plus_one").mkdir(parents=True)
    (tmp_path / "katas" / "n_plus_one" / "services.py").write_text("a = 1\n")
    (tmp_path / ".dojo").mkdir()
    (tmp_path / ".dojo" / "state.json").write_text("{}")
    gone = tmp_path / "graders.py"
    gone.write_text("")
    before = untouched.snapshot(tmp_path)
    (tmp_path / "katas" / "n_plus_one" / "services.py").write_text("a = 22\n")
    (tmp_path / ".dojo" / "results.json").write_text("{}")
    gone.unlink()
    for cache in ("katas/n_plus_one/__pycache__", ".pytest_cache", ".dojo/browser-cache", "docs/.build"):
        (tmp_path / cache).mkdir(parents=True)
        (tmp_path / cache / "file").write_text("cached")
    assert untouched.changes(before, untouched.snapshot(tmp_path)) == [
        "added   .dojo/results.json",
        "removed graders.py",
        "changed katas/n_plus_one/services.py",
    ]


def test_a_folder_made_for_a_cache_alone_is_no_change_but_a_file_put_in_it_is(tmp_path: Path) -> None:
    before = untouched.snapshot(tmp_path)  # a fresh clone has no .dojo/
    (tmp_path / ".dojo" / "browser-cache").mkdir(parents=True)
    (tmp_path / ".dojo" / "browser-cache" / "pyodide.js").write_text("cached")
    assert untouched.changes(before, untouched.snapshot(tmp_path)) == []
    (tmp_path / ".dojo" / "results.json").write_text("{}")
    assert untouched.changes(before, untouched.snapshot(tmp_path)) == ["added   .dojo/results.json"]
