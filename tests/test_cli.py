"""`uv run dojo`, every command, run against a temporary clone of the dojo (a git repository of its own).

Most tests write `.dojo/results.json` the way the grading plugin does instead of grading; the tests of
`check` and `watch` grade for real (a pytest subprocess each time, in the temporary clone).
"""

import io
import json
import shutil
import subprocess
import tarfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from dojo import cli, paths, progress, runner
from dojo.manifest import Kata, load_katas
from dojo.runner import Grading, KataResult

from .conftest import grading_env

GIT = ["git", "-c", "user.name=Dojo Tests", "-c", "user.email=tests@example.com", "-c", "commit.gpgsign=false"]
COMMITTED = ["katas", "solutions", "graders", "katas.toml", "rules.toml", "pyproject.toml", ".gitignore"]

Run = Callable[..., tuple[int, str, str]]
SAVE_GAP = (cli.SAVE_GROUPING_MS + 300) / 1000  # long enough for two saves to make two batches


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clone-like copy: the katas as committed (hermetic while others write new ones), this harness."""
    root = tmp_path_factory.mktemp("dojo-clone") / "dojo"
    root.mkdir()
    archive = subprocess.run(["git", "archive", "HEAD", *COMMITTED], cwd=paths.REPO, capture_output=True, check=False)
    if archive.returncode == 0:
        with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
            tar.extractall(root, filter="data")
    else:  # not a git checkout: the work tree as it is
        for name in COMMITTED:
            source = paths.REPO / name
            if source.is_dir():
                shutil.copytree(source, root / name, ignore=shutil.ignore_patterns("__pycache__"))
            elif source.is_file():
                shutil.copy2(source, root / name)
    # the harness under test; `python -m pytest` in the clone imports it from there
    shutil.copytree(paths.REPO / "dojo", root / "dojo", ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    subprocess.run([*GIT, "commit", "-q", "-m", "the dojo as shipped"], cwd=root, check=True)
    return root


@pytest.fixture
def repo(template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "dojo"
    shutil.copytree(template, root)
    monkeypatch.chdir(root / "katas")  # any folder inside the clone will do
    monkeypatch.delenv("DOJO_REPO", raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    for name, value in grading_env().items():
        monkeypatch.setenv(name, value)
    return root


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Run:
    """`dojo ARGS…` in this process: (exit status, stdout, stderr); `answer=` is typed at a prompt."""

    def dojo(*args: str, answer: str | None = None) -> tuple[int, str, str]:
        capsys.readouterr()
        if answer is not None:
            monkeypatch.setattr("sys.stdin", io.StringIO(answer))
        status = cli.main(list(args))
        captured = capsys.readouterr()
        return status, captured.out, captured.err

    return dojo


def katas(root: Path) -> tuple[Kata, ...]:
    return load_katas(root / "katas.toml")


def write_results(root: Path, statuses: dict[str, str]) -> None:
    """`.dojo/results.json` as the grading plugin writes it: one check per kata, passed or failed."""
    by_slug = {kata.slug: kata for kata in katas(root)}
    document: dict[str, Any] = {"tree": "katas/", "finished_at": "2026-03-02T10:00:00+00:00", "katas": {}}
    for slug, status in statuses.items():
        test, rule = next(iter(by_slug[slug].lessons.items()))
        failed = status != "passed"
        document["katas"][slug] = {
            "status": status,
            "tests": [
                {
                    "test": test,
                    "outcome": "failed" if failed else "passed",
                    "rule": rule,
                    "message": f"{slug} still breaks {rule}." if failed else "",
                    "broken": status == "broken",
                }
            ],
        }
    (root / ".dojo").mkdir(exist_ok=True)
    (root / ".dojo" / "results.json").write_text(json.dumps(document), encoding="utf-8")


def state(root: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((root / ".dojo" / "state.json").read_text(encoding="utf-8"))
    return loaded


def starter(root: Path, name: str) -> str:
    shown = subprocess.run(["git", "show", f"HEAD:{name}"], cwd=root, capture_output=True, text=True, check=True)
    return shown.stdout


def solve(root: Path, slug: str, extra: str = "") -> None:
    for name in next(kata for kata in katas(root) if kata.slug == slug).files:
        code = (root / "solutions" / slug / name).read_text(encoding="utf-8")
        (root / "katas" / slug / name).write_text(code + extra, encoding="utf-8")


# --- list, next, progress -------------------------------------------------------------------------


def test_list_shows_every_kata_in_order_with_its_status_and_the_progress(repo: Path, run: Run) -> None:
    order = [kata.slug for kata in katas(repo)]
    write_results(repo, {"n_plus_one": "passed", "webhook_idempotency": "failing"})

    status, out, _ = run()

    assert status == 0
    positions = [out.index(slug) for slug in order]
    assert positions == sorted(positions)
    assert "✔ solved" in out
    assert "✘ failing (DATA-3)" in out
    assert out.count("· not started") == len(order) - 2
    for kata in katas(repo):
        assert ", ".join(kata.rules) in out
        assert kata.difficulty in out
    assert f"1/{len(order)} solved" in out
    assert "▶ webhook_idempotency" in out  # the next kata
    assert run("list")[1] == out


def test_next_gives_the_first_unsolved_kata_its_files_page_and_grading_command(repo: Path, run: Run) -> None:
    status, out, _ = run("next")
    assert status == 0
    assert "The monthly statement that queries per invoice" in out
    assert "katas/n_plus_one/services.py" in out
    assert "http://127.0.0.1:8000/katas/n_plus_one/" in out
    assert "uv run dojo check n_plus_one" in out
    assert "Make `monthly_statement()`" not in out  # the README, rendered
    assert "monthly_statement()" in out

    write_results(repo, {"n_plus_one": "passed"})
    assert "katas/webhook_idempotency/services.py" in run("next")[1]

    write_results(repo, dict.fromkeys((kata.slug for kata in katas(repo)), "passed"))
    status, out, _ = run("next")
    assert status == 0
    assert f"All {len(katas(repo))} katas are solved" in out


def test_progress_is_a_report_a_workshop_lead_can_collect(repo: Path, run: Run) -> None:
    write_results(repo, {"n_plus_one": "passed", "webhook_idempotency": "failing"})
    run("hint", "webhook_idempotency")

    status, out, _ = run("progress", "--json", "--name", "Ada")

    assert status == 0
    report = json.loads(out)
    assert report["learner"] == "Ada"
    assert (report["solved"], report["total"]) == (1, len(katas(repo)))
    first, second = report["katas"][:2]
    assert first["kata"] == "n_plus_one"
    assert first["status"] == "solved"
    assert first["first_passed_at"] == "2026-03-02T10:00:00+00:00"  # graded with `pytest katas` directly
    assert second == second | {"status": "failing", "hints_used": 1, "attempts": 0, "first_passed_at": None}
    assert second["failing_rules"] == ["DATA-3"]
    assert {"kata", "status", "attempts", "hints_used", "first_passed_at"} <= set(report["katas"][-1])

    status, out, _ = run("progress", "--markdown", "--name", "Ada")
    assert status == 0
    assert "| # | Kata | Rules | Status | Attempts | Hints used | First passed |" in out
    assert "| 1 | `n_plus_one` | PERF-2 | solved | 0 | 0 of 3 | 2026-03-02T10:00:00+00:00 |" in out
    assert "failing (DATA-3) | 0 | 1 of 3 |" in out

    status, out, _ = run("progress")
    assert status == 0
    assert "uv run dojo progress --json" in out


# --- check ----------------------------------------------------------------------------------------


def test_check_fails_on_the_starter_with_the_lesson_and_passes_once_solved(repo: Path, run: Run) -> None:
    status, out, _ = run("check", "n_plus_one")

    assert status == 1
    assert "✘ n_plus_one" in out
    assert "PERF-2 · Avoid N+1 queries" in out
    assert "queries for 1 invoice" in out  # the grader's own words
    assert "Read: http://127.0.0.1:8000/rules/perf-2/" in out
    assert "uv run dojo hint n_plus_one" in out
    results = json.loads((repo / ".dojo" / "results.json").read_text())
    assert results["katas"]["n_plus_one"]["status"] == "failing"

    solve(repo, "n_plus_one")
    status, out, _ = run("check", "n_plus_one")

    assert status == 0
    assert "✔ n_plus_one passes" in out
    assert "Solved!" in out
    remembered = state(repo)["katas"]["n_plus_one"]
    assert remembered["attempts"] == 2
    assert remembered["first_passed_at"] is not None
    assert "✔ solved" in run("list")[1]
    status, out, _ = run("solution", "n_plus_one")
    assert status == 0
    assert "match the reference solution exactly" in out


# --- watch ----------------------------------------------------------------------------------------


def _grading(slug: str, status: str | None) -> Grading:
    if status is None:  # pytest could not run at all
        return Grading(exit_code=4, output="ERROR: something went wrong", katas={})
    outcome = {"passed": "passed", "failing": "failed", "skipped": "skipped"}[status]
    message = "" if outcome != "failed" else "3 queries ran for 1 invoice."
    test = runner.TestResult(test="test_lesson", outcome=outcome, rule="PERF-2", message=message, broken=False)
    return Grading(exit_code=0, output="", katas={slug: KataResult(slug=slug, status=status, tests=(test,))})


def test_watch_regrades_on_every_save_and_moves_on_only_after_a_real_pass(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outcomes = iter(["failing", None, "skipped", "failing", "passed", "failing"])
    graded: list[list[str]] = []

    def fake_grade(targets: list[str], **_: object) -> Grading:
        graded.append(targets)
        return _grading(targets[0].removeprefix("katas/"), next(outcomes))

    def saves(folder: Path, stop: threading.Event | None) -> Iterator[set[tuple[object, str]]]:
        if folder.name == "n_plus_one":
            for _ in range(4):
                yield {("modified", str(folder / "services.py"))}

    monkeypatch.setattr(cli, "grade", fake_grade)
    buffer = io.StringIO()
    dojo = cli.Dojo(root=repo, out=Console(file=buffer, width=200), err=Console(file=buffer, width=200))

    status = cli.watch_loop(dojo, katas(repo)[0], saves, warm=False)

    output = buffer.getvalue()
    assert status == 0
    assert graded == [["katas/n_plus_one"]] * 5 + [["katas/webhook_idempotency"]]
    assert "Watching katas/n_plus_one/ — save a file to re-grade; Ctrl-C to stop" in output
    assert "uv run dojo watch --poll" in output
    assert "it could not be graded" in output  # no result: no pass
    assert "every check was skipped" in output  # nothing ran: no pass
    assert output.count("On to the next kata") == 1
    assert output.index("✔ n_plus_one passes") < output.index("On to the next kata: webhook_idempotency")
    assert "Watching katas/webhook_idempotency/" in output
    assert "saved: services.py" in output
    assert state(repo)["katas"]["n_plus_one"]["attempts"] == 4  # gradings with a result


@pytest.mark.parametrize("named", [True, False])
def test_watch_stays_on_a_named_kata_that_already_passes(
    repo: Path, monkeypatch: pytest.MonkeyPatch, named: bool
) -> None:
    graded: list[str] = []

    def fake_grade(targets: list[str], **_: object) -> Grading:
        graded.append(targets[0].removeprefix("katas/"))
        return _grading(graded[-1], "passed" if graded[-1] == "n_plus_one" else "failing")

    def saves(folder: Path, stop: threading.Event | None) -> Iterator[set[tuple[object, str]]]:
        if folder.name == "n_plus_one":
            yield {("modified", str(folder / "services.py"))}
            yield {("modified", str(folder / "services.py"))}

    monkeypatch.setattr(cli, "grade", fake_grade)
    buffer = io.StringIO()
    dojo = cli.Dojo(root=repo, out=Console(file=buffer, width=200), err=Console(file=buffer, width=200))

    assert cli.watch_loop(dojo, katas(repo)[0], saves, warm=False, stay=named) == 0

    if named:  # refactoring a solved kata: every save is graded, and it stays
        assert graded == ["n_plus_one"] * 3
        assert "n_plus_one passes already: watching it anyway" in buffer.getvalue()
    else:
        assert graded == ["n_plus_one", "webhook_idempotency"]


def test_watch_regrades_a_real_save_within_seconds(repo: Path) -> None:
    """The real loop: watchfiles notices a save and the grader runs again; the delay is reported."""
    write_results(repo, {kata.slug: "passed" for kata in katas(repo)[1:]})  # n_plus_one is the last one left
    buffer = io.StringIO()
    dojo = cli.Dojo(root=repo, out=Console(file=buffer, width=300), err=Console(file=buffer, width=300))
    stop = threading.Event()
    outcome: list[int] = []
    watcher = threading.Thread(
        target=lambda: outcome.append(
            cli.watch_loop(dojo, katas(repo)[0], cli._changes_from_watchfiles(poll=False), stop=stop)
        )
    )
    watcher.start()
    try:
        wait_for(lambda: "✘ n_plus_one" in buffer.getvalue(), timeout=120)
        saved = time.monotonic()
        solve(repo, "n_plus_one")
        wait_for(lambda: "✔ n_plus_one passes" in buffer.getvalue(), timeout=120)
        delay = time.monotonic() - saved
    finally:
        stop.set()
        watcher.join(timeout=120)
    output = buffer.getvalue()
    assert not watcher.is_alive()
    assert outcome == [0]
    assert "result " in output
    assert "s after the save" in output
    assert "Every kata is solved!" in output
    assert delay < 60, output
    print(f"dojo watch: save → result in {delay:.2f} s")  # shown with -s


def test_a_warm_process_grades_exactly_as_a_cold_one(repo: Path) -> None:
    """`dojo watch` grades in a process started ahead of time: same results, same exit status."""
    warm = runner.WarmPytest(cwd=repo)
    try:
        warmed = runner.grade(["katas/n_plus_one"], cwd=repo, warm=warm)
    finally:
        warm.close()
    cold = runner.grade(["katas/n_plus_one"], cwd=repo)
    assert warmed.katas == cold.katas
    assert warmed.katas["n_plus_one"].status == "failing"
    assert warmed.exit_code == cold.exit_code == 1


def test_saves_made_while_a_grading_runs_are_graded_once_afterwards(tmp_path: Path) -> None:
    changes = cli.FolderChanges(tmp_path, None, poll=False)
    try:
        time.sleep(0.5)  # the watcher starts
        (tmp_path / "services.py").write_text("a = 1\n")
        time.sleep(SAVE_GAP)  # a second save, as a separate batch, while "a grading runs"
        (tmp_path / "models.py").write_text("b = 2\n")
        time.sleep(SAVE_GAP)
        batch = next(changes)
    finally:
        changes.close()
    assert {Path(name).name for _change, name in batch} == {"services.py", "models.py"}
    assert next(changes, None) is None  # closed: the iteration ends


def wait_for(condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.05)


# --- hint -----------------------------------------------------------------------------------------


def test_hint_shows_one_more_hint_each_time_and_remembers(repo: Path, run: Run) -> None:
    hints = katas(repo)[0].hints

    status, out, _ = run("hint", "n_plus_one")
    assert status == 0
    assert "Hint 1 of 3 · n_plus_one" in out
    assert hints[0].split(":")[0] in out
    assert state(repo)["katas"]["n_plus_one"]["hints_shown"] == 1

    assert "Hint 2 of 3" in run("hint", "katas/n_plus_one/")[1]  # the folder works as well as the slug
    assert "Hint 3 of 3" in run("hint")[1]  # the next unsolved kata
    status, out, _ = run("hint", "n_plus_one")
    assert status == 0
    assert "No more hints: all 3 hints of n_plus_one have been shown" in out
    assert state(repo)["katas"]["n_plus_one"]["hints_shown"] == 3

    out = run("hint", "--all", "n_plus_one")[1]
    assert [f"Hint {n} of 3" in out for n in (1, 2, 3)] == [True, True, True]
    assert "No hint of webhook_idempotency shown yet" in run("hint", "--all", "webhook_idempotency")[1]


# --- reset, backups, restore ----------------------------------------------------------------------


def test_reset_backs_up_the_learners_files_then_restores_the_starter(repo: Path, run: Run) -> None:
    folder = repo / "katas" / "n_plus_one"
    (folder / "services.py").write_text("# my attempt\n", encoding="utf-8")
    (folder / "helpers.py").write_text("# a file of mine\n", encoding="utf-8")
    write_results(repo, {"n_plus_one": "failing"})

    status, out, _ = run("reset", "n_plus_one")

    assert status == 0
    assert (folder / "services.py").read_text() == starter(repo, "katas/n_plus_one/services.py")
    assert not (folder / "helpers.py").exists()
    [backup] = (repo / ".dojo" / "backups").iterdir()
    assert backup.name.endswith("-n_plus_one")
    assert (backup / "services.py").read_text() == "# my attempt\n"
    assert (backup / "helpers.py").read_text() == "# a file of mine\n"
    assert f"uv run dojo restore {backup.name}" in out
    assert "· not started" in run("list")[1].split("n_plus_one", 1)[1].split("\n", 1)[0]  # old result forgotten

    status, out, _ = run("backups")
    assert status == 0
    assert backup.name in out
    assert "helpers.py" in out

    status, out, _ = run("restore", backup.name)

    assert status == 0
    assert (folder / "services.py").read_text() == "# my attempt\n"
    assert (folder / "helpers.py").read_text() == "# a file of mine\n"
    backups = sorted(path.name for path in (repo / ".dojo" / "backups").iterdir())
    assert len(backups) == 2  # the starter that was there is kept too
    listed = run("backups", "n_plus_one")[1]
    assert all(name in listed for name in backups)

    status, _, err = run("restore", "no_such_backup")
    assert status == 2
    assert "There is no backup named 'no_such_backup'" in err


def test_reset_all_asks_first(repo: Path, run: Run) -> None:
    for slug in ("n_plus_one", "webhook_idempotency"):
        (repo / "katas" / slug / "services.py").write_text("# mine\n", encoding="utf-8")

    status, out, _ = run("reset", "--all", answer="n\n")
    assert status == 1
    assert "Reset all" in out
    assert "Nothing was reset" in out
    assert (repo / "katas" / "n_plus_one" / "services.py").read_text() == "# mine\n"
    assert not (repo / ".dojo" / "backups").exists()

    assert run("reset", "--all", answer="")[0] == 1  # no answer (end of input) is a no

    status, out, _ = run("reset", "--all", answer="y\n")
    assert status == 0
    for slug in ("n_plus_one", "webhook_idempotency"):
        assert (repo / "katas" / slug / "services.py").read_text() == starter(repo, f"katas/{slug}/services.py")
    assert len(list((repo / ".dojo" / "backups").iterdir())) == len(katas(repo))

    status, out, _ = run("reset", "--all", "--yes")
    assert status == 0
    assert "Reset all" not in out
    assert run("reset")[0] == 2  # neither a kata nor --all


# --- solution -------------------------------------------------------------------------------------


def test_solution_is_refused_before_a_pass_forced_with_a_warning_and_shown_after(repo: Path, run: Run) -> None:
    status, out, err = run("solution", "n_plus_one")
    assert status == 1
    assert "unlocks once the kata passes" in err
    assert "--force" in err
    assert "select_related" not in out

    status, out, err = run("solution", "n_plus_one", "--force")
    assert status == 0
    assert "Spoiler" in err
    assert '+        .select_related("customer")' in out

    solve(repo, "n_plus_one", extra="# my own note\n")
    write_results(repo, {"n_plus_one": "passed"})
    status, out, err = run("solution", "n_plus_one")
    assert status == 0
    assert err == ""
    assert "-# my own note" in out
    assert "--- katas/n_plus_one/services.py (yours)" in out
    assert "http://127.0.0.1:8000/katas/n_plus_one/#reference-solution" in out


# --- state and bad input --------------------------------------------------------------------------


@pytest.mark.parametrize("damage", ["{not json", '{"katas": {"n_plus_one": {"hints_shown": "many"}}}', "[]"])
def test_a_corrupt_state_file_is_set_aside_and_rebuilt(repo: Path, run: Run, damage: str) -> None:
    (repo / ".dojo").mkdir()
    (repo / ".dojo" / "state.json").write_text(damage, encoding="utf-8")
    (repo / ".dojo" / "results.json").write_text("garbage", encoding="utf-8")

    status, out, err = run("hint", "n_plus_one")

    assert status == 0
    assert "Hint 1 of 3" in out
    assert "state.json was unreadable and has been rebuilt" in err
    assert len(err.strip().splitlines()) == 1
    assert state(repo)["katas"]["n_plus_one"]["hints_shown"] == 1
    assert (repo / ".dojo" / "state.json.corrupt").read_text() == damage
    status, _, err = run("list")
    assert status == 0
    assert err == ""


@pytest.mark.parametrize(
    "command",
    [("check", "n_plus_on"), ("watch", "n_plus_on"), ("hint", "n_plus_on"), ("reset", "n_plus_on"),
     ("solution", "n_plus_on"), ("backups", "n_plus_on")],
    ids=lambda command: command[0],
)  # fmt: skip
def test_an_unknown_kata_exits_2_with_the_closest_names(repo: Path, run: Run, command: tuple[str, ...]) -> None:
    status, _, err = run(*command)
    assert status == 2
    assert "There is no kata named 'n_plus_on'. Did you mean: n_plus_one?" in err
    assert "uv run dojo list" in err


def test_outside_the_repository_it_says_where_to_run(tmp_path: Path, run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DOJO_REPO", raising=False)
    monkeypatch.chdir(tmp_path)
    status, _, err = run("list")
    assert status == 2
    assert "is not inside the Backend Standards Dojo" in err
    assert "katas.toml" in err
    assert f"cd {paths.REPO} && uv run dojo" in err

    monkeypatch.setenv("DOJO_REPO", str(tmp_path))
    status, _, err = run("next")
    assert status == 2
    assert f"DOJO_REPO={tmp_path} is not inside" in err


def test_a_kata_whose_files_were_deleted_says_so_and_offers_a_reset(repo: Path, run: Run) -> None:
    (repo / "katas" / "n_plus_one" / "services.py").unlink()

    status, _, err = run("check", "n_plus_one")  # nothing to grade: no pytest run
    assert status == 1
    assert "1 file of katas/n_plus_one/ is missing: services.py" in err
    assert "uv run dojo reset n_plus_one" in err
    status, out, err = run("list")
    assert "✘ files missing" in out
    assert "uv run dojo reset n_plus_one" in err

    shutil.rmtree(repo / "katas" / "n_plus_one")
    status, out, err = run("next")
    assert status == 0
    assert "katas/n_plus_one/ is missing" in err
    assert "The monthly statement that queries per invoice" in out  # instructions from the reference tree
    status, out, _ = run("reset", "n_plus_one")
    assert status == 0
    assert "there were no files to back up" in out
    assert (repo / "katas" / "n_plus_one" / "services.py").read_text() == starter(repo, "katas/n_plus_one/services.py")


def test_reset_without_a_committed_starter_touches_nothing(repo: Path, run: Run) -> None:
    shutil.rmtree(repo / ".git")
    (repo / "katas" / "n_plus_one" / "services.py").write_text("# mine\n", encoding="utf-8")
    status, _, err = run("reset", "n_plus_one")
    assert status == 1
    assert "Your files are untouched" in err
    assert (repo / "katas" / "n_plus_one" / "services.py").read_text() == "# mine\n"


def test_help_lists_every_command(run: Run) -> None:
    status, out, _ = run("--help")
    assert status == 0
    for command in cli.COMMANDS:
        assert command in out
    assert run("no-such-command")[0] == 2


# --- the site -------------------------------------------------------------------------------------


def test_the_site_status_holds_each_katas_status_and_failing_lessons(repo: Path, run: Run) -> None:
    write_results(repo, {"n_plus_one": "passed", "webhook_idempotency": "failing"})
    run("hint", "webhook_idempotency")

    status = progress.site_status(repo)

    by_slug = {entry["kata"]: entry for entry in status["katas"]}
    assert by_slug["n_plus_one"]["status"] == "solved"
    assert by_slug["n_plus_one"]["page"] == "katas/n_plus_one/"
    failing = by_slug["webhook_idempotency"]
    assert failing["hints_used"] == 1
    assert failing["failures"] == [
        {
            "test": "test_a_redelivered_event_is_applied_once",
            "rule": "DATA-3",
            "rule_title": "Idempotent webhooks",
            "rule_page": "rules/data-3/",
            "message": "webhook_idempotency still breaks DATA-3.",
            "broken": False,
        }
    ]
    assert status["graded_at"] == "2026-03-02T10:00:00+00:00"
