"""`uv run dojo`, every command, run against a temporary clone of the dojo (a git repository of its own).

Most tests write `.dojo/results.json` the way the grading plugin does instead of grading; the tests of
`check` and `watch` grade for real (a pytest subprocess each time, in the temporary clone).
"""

import argparse
import itertools
import json
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from watchfiles import Change

from dojo import backups, cli, paths, progress, runner
from dojo.cli import app, core, registry, watch
from dojo.manifest import Kata
from dojo.results import KataStatus, Stop, stopped
from dojo.runner import Grading, KataResult

from .clones import SAVE_GAP, Run, console, katas, repo, run, solve, starter, state, template, write_results

__all__ = ["repo", "run", "template"]  # fixtures

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
    assert f"▶ {order[1]}" in out  # the next kata: the first one not solved
    assert run("list")[1] == out


def test_at_80_columns_the_list_shows_whole_slugs_and_backup_ids_and_stays_short(
    repo: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The slugs and backup IDs are what the learner types: never cut; titles and levels go first."""
    monkeypatch.setenv("COLUMNS", "80")
    write_results(repo, {"webhook_idempotency": "failing"})
    _, out, _ = run()
    lines = out.splitlines()
    assert max(map(len, lines)) <= 80
    rows = {line.split("│")[2].strip().removeprefix("▶ ") for line in lines if line.count("│") > 3}
    assert {kata.slug for kata in katas(repo)} <= rows
    assert len(lines) <= 2 * len(katas(repo)) + 8, f"{len(lines)} lines"
    (repo / "katas" / "at_least_once_consumer" / "services.py").write_text("# mine\n", encoding="utf-8")
    run("reset", "at_least_once_consumer")
    [backup] = (repo / ".dojo" / "backups").iterdir()
    _, listed, _ = run("backups")
    assert max(map(len, listed.splitlines())) <= 80
    assert any(f"│ {backup.name} " in line for line in listed.splitlines()), listed


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
    second = katas(repo)[1]  # the first kata not solved once n_plus_one is
    assert f"katas/{second.slug}/{second.files[0]}" in run("next")[1]

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


def _graded(monkeypatch: pytest.MonkeyPatch, *gradings: Grading | BaseException) -> list[list[str]]:
    """Make `dojo` grade with these results, one per grading, instead of running pytest."""
    queue = list(gradings)
    calls: list[list[str]] = []

    def fake_grade(targets: list[str], **_: object) -> Grading:
        calls.append(targets)
        outcome = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    monkeypatch.setattr(core, "grade", fake_grade)
    return calls


def _one_check(
    status: str, outcome: str, message: str = "", *, rule: str | None = "PERF-2", broken: bool = False
) -> Grading:
    test = runner.TestResult(test="test_lesson", outcome=outcome, rule=rule, message=message, broken=broken)
    try:  # the words of older results ("passed", "skipped") read as today's statuses
        typed: str = KataStatus(status)
    except ValueError:  # a status this version does not know stays as it is
        typed = status
    # a status this version does not know is passed as its string, on purpose
    kata = KataResult("n_plus_one", typed, (test,))  # type: ignore[arg-type]
    return Grading(exit_code=1, output="", katas={"n_plus_one": kata})


def test_check_shows_a_lesson_message_whole(repo: Path, run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    lesson = " ".join(f"Sentence {n} of the lesson explains a little more of the cause and the fix." for n in range(60))
    _graded(monkeypatch, _one_check("failing", "failed", lesson))

    status, out, _ = run("check", "n_plus_one")

    assert status == 1
    assert len(lesson) > 4000
    assert lesson in out
    assert "lines more" not in out


def test_check_puts_long_learner_output_behind_a_note(repo: Path, run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    printed = "\n".join(f"line {n} that the learner's code printed" for n in range(10_000))
    _graded(monkeypatch, Grading(exit_code=3, output=printed, katas={}))
    status, out, _ = run("check", "n_plus_one")
    assert status == 1
    assert "… 9975 lines more above (uv run dojo check -v n_plus_one shows all)" in out
    assert "line 9999 that" in out
    assert "line 9974 that" not in out

    _graded(monkeypatch, _one_check("broken", "failed", printed + "\n" + "x" * 50_000, broken=True))
    status, out, _ = run("check", "n_plus_one")
    assert status == 1
    assert "the code could not be loaded" in out
    assert "line 59 that" in out
    assert "… 9941 lines more (uv run dojo check -v n_plus_one shows all)" in out
    assert len(out) < 20_000


def test_a_grading_that_times_out_is_reported_not_a_crash(
    repo: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    _graded(monkeypatch, runner.timed_out(["katas/n_plus_one"], 600, ""))

    status, out, err = run("check", "n_plus_one")

    assert status == 1
    assert "✘ n_plus_one: it took too long." in out
    assert "The grading of n_plus_one was stopped after 600 s without a result" in out
    assert "also at the top of a module" in out
    assert "Traceback" not in out + err


def test_a_real_grading_that_runs_out_of_time_says_it_took_too_long(
    repo: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(core, "GRADING_TIMEOUT", 0.3)  # far less than a grading's start-up

    status, out, _ = run("check", "n_plus_one")

    assert status == 1
    assert "✘ n_plus_one: it took too long." in out
    assert "stopped after 0.3 s without a result" in out
    assert "could not be loaded" not in out
    assert "dojo reset" not in out


def test_a_kata_stopped_for_time_inside_a_grading_says_it_took_too_long(
    repo: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    check = stopped("kata_process", Stop.GRADING_TIMEOUT, "Grading n_plus_one took longer than 300 s")
    result = KataResult(slug="n_plus_one", status=KataStatus.BROKEN, tests=(check,))
    _graded(monkeypatch, Grading(exit_code=1, output="", katas={"n_plus_one": result}))

    status, out, _ = run("check", "n_plus_one")

    assert status == 1
    assert "✘ n_plus_one: it took too long." in out
    assert "took longer than 300 s" in out
    assert "could not be loaded" not in out


def test_watch_goes_on_after_a_grading_that_times_out(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_results(repo, {kata.slug: "passed" for kata in katas(repo)[1:]})
    calls = _graded(monkeypatch, runner.timed_out(["katas/n_plus_one"], 600, ""), _one_check("passed", "passed"))

    def saves(folder: Path, stop: threading.Event | None) -> Iterator[set[tuple[object, str]]]:
        yield {saved(folder / "services.py")}

    dojo, buffer = console()
    assert watch.watch_loop(dojo, katas(repo)[0], saves, warm=False) == 0
    assert len(calls) == 2
    assert "stopped after 600 s" in buffer.getvalue()
    assert "Still watching" in buffer.getvalue()
    assert "Every kata is solved!" in buffer.getvalue()


@pytest.mark.parametrize("status", ["incomplete", "some-status-of-tomorrow"])
def test_a_status_other_than_passed_is_never_shown_as_solved(
    repo: Path, run: Run, monkeypatch: pytest.MonkeyPatch, status: str
) -> None:
    """ "incomplete": every check that ran passed, but not all of them ran (`-k`, a skip)."""
    _graded(monkeypatch, _one_check(status, "passed"))

    code, out, _ = run("check", "n_plus_one")

    assert code == 1
    assert "n_plus_one is not solved yet" in out
    assert ("not every check ran" in out) == (status == "incomplete")
    assert "Solved!" not in out
    assert "first_passed_at" not in json.dumps(state(repo)["katas"]["n_plus_one"]).replace(
        '"first_passed_at": null', ""
    )
    write_results(repo, {"n_plus_one": status})
    assert "✔ solved" not in run("list")[1]
    assert run("solution", "n_plus_one")[0] == 1


def test_the_watch_banner_leaves_out_editors_temporary_files(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _graded(monkeypatch, _one_check("failing", "failed", "still failing"))
    temporary = ["sedMXYSYi", ".services.py.swp", "services.py~", "4913", "#services.py#", ".#services.py",
                 "services.py___jb_tmp___", "services.py___jb_old___"]  # fmt: skip

    def saves(folder: Path, stop: threading.Event | None) -> Iterator[set[tuple[object, str]]]:
        yield {("added", str(folder / name)) for name in temporary}  # only temporary files: not a save
        yield {saved(folder / "services.py")} | {("deleted", str(folder / n)) for n in temporary}

    dojo, buffer = console()
    assert watch.watch_loop(dojo, katas(repo)[0], saves, warm=False) == 0

    output = buffer.getvalue()
    assert len(calls) == 2  # the start, and the one real save
    assert output.count("saved:") == 1
    assert "saved: services.py" in output
    assert not any(name in output for name in temporary)
    folder = repo / "katas" / "n_plus_one"
    keeps = watch.KataFilter(folder)
    assert [keeps(Change.added, str(folder / name)) for name in temporary] == [False] * len(temporary)
    assert keeps(Change.modified, str(folder / "services.py"))
    assert not keeps(Change.modified, str(repo / "katas" / "n_plus_one_other" / "services.py"))
    assert not keeps(Change.modified, str(repo / "katas" / "webhook_idempotency" / "services.py"))


# --- watch ----------------------------------------------------------------------------------------


def _grading(slug: str, status: str | None) -> Grading:
    if status is None:  # pytest could not run at all
        return Grading(exit_code=4, output="ERROR: something went wrong", katas={})
    outcome = {"passed": "passed", "failing": "failed", "skipped": "skipped"}[status]
    message = "" if outcome != "failed" else "3 queries ran for 1 invoice."
    test = runner.TestResult(test="test_lesson", outcome=outcome, rule="PERF-2", message=message, broken=False)
    typed = KataStatus(status)  # the words of older results ("passed", "skipped") read as today's statuses
    return Grading(exit_code=0, output="", katas={slug: KataResult(slug=slug, status=typed, tests=(test,))})


def saved(path: Path) -> tuple[str, str]:
    """A save of `path`, as watchfiles reports it: the file written after the last grading started."""
    later = time.time() + 1
    os.utime(path, (later, later))
    return ("modified", str(path))


def test_watch_grades_a_save_of_two_files_once(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The second file's change can come in a batch of its own, once the grading of both has begun."""
    graded: list[list[str]] = []

    def fake_grade(targets: list[str], **_: object) -> Grading:
        graded.append(targets)
        return _grading("n_plus_one", "failing")

    def saves(folder: Path, stop: threading.Event | None) -> Iterator[set[tuple[object, str]]]:
        if folder.name != "n_plus_one":
            return
        for name in ("services.py", "models.py"):
            (folder / name).write_text((folder / name).read_text() + "\n# saved together\n")
        time.sleep(SAVE_GAP)  # watchfiles hands a batch over after the save has settled
        yield {("modified", str(folder / "services.py"))}
        yield {("modified", str(folder / "models.py"))}  # written before that grading began
        yield {saved(folder / "models.py")}  # a save after it: graded

    monkeypatch.setattr(core, "grade", fake_grade)
    dojo, buffer = console()
    assert watch.watch_loop(dojo, katas(repo)[0], saves, warm=False) == 0
    assert len(graded) == 3, buffer.getvalue()  # the first grading, the save of two files, the later save


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
                yield {saved(folder / "services.py")}

    monkeypatch.setattr(core, "grade", fake_grade)
    dojo, buffer = console()

    status = watch.watch_loop(dojo, katas(repo)[0], saves, warm=False)

    output = buffer.getvalue()
    assert status == 0
    second = katas(repo)[1].slug
    assert graded == [["katas/n_plus_one"]] * 5 + [[f"katas/{second}"]]
    assert "Watching katas/n_plus_one/ — save a file to re-grade; Ctrl-C to stop" in output
    assert "uv run dojo watch --poll" in output
    assert "it could not be graded" in output  # no result: no pass
    assert "is not solved yet" in output  # nothing ran: no pass
    assert output.count("On to the next kata") == 1
    assert output.index("✔ n_plus_one passes") < output.index(f"On to the next kata: {second}")
    assert f"Watching katas/{second}/" in output
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
            yield {saved(folder / "services.py")}
            yield {saved(folder / "services.py")}

    monkeypatch.setattr(core, "grade", fake_grade)
    dojo, buffer = console()

    assert watch.watch_loop(dojo, katas(repo)[0], saves, warm=False, stay=named) == 0

    if named:  # refactoring a solved kata: every save is graded, and it stays
        assert graded == ["n_plus_one"] * 3
        assert "n_plus_one passes already: watching it anyway" in buffer.getvalue()
    else:
        assert graded == ["n_plus_one", katas(repo)[1].slug]


class RealWatch:
    """`dojo watch` with watchfiles, in a thread, writing to a buffer; stopped (if still running) on exit."""

    def __init__(self, kata: Kata) -> None:
        self.dojo, self.buffer = console(width=300)
        self.stop = threading.Event()
        self.outcome: list[int] = []
        changes = watch.changes_from_watchfiles(poll=False)
        self.thread = threading.Thread(
            target=lambda: self.outcome.append(watch.watch_loop(self.dojo, kata, changes, stop=self.stop))
        )

    @property
    def output(self) -> str:
        return self.buffer.getvalue()

    def __enter__(self) -> "RealWatch":
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join(timeout=300)

    def wait_for(self, text: str, *, count: int = 1, timeout: float = 300) -> None:
        wait_for(lambda: self.output.count(text) >= count or not self.thread.is_alive(), timeout)
        assert self.output.count(text) >= count, self.output

    def save_until(self, save: Callable[[], None], text: str, *, timeout: float = 300) -> None:
        """Save, and save again every few seconds until `text` shows (a watcher can start late on a busy
        machine; a save it did not see yet is not what is tested here)."""
        deadline = time.monotonic() + timeout
        while text not in self.output and self.thread.is_alive():
            save()
            wait_for(lambda: text in self.output or not self.thread.is_alive(), timeout=10, fail=False)
            assert time.monotonic() < deadline, self.output
        assert text in self.output, self.output


def test_watch_regrades_a_real_save_within_seconds(repo: Path) -> None:
    """The real loop: watchfiles notices a save and the grader runs again; the delay is reported."""
    write_results(repo, {kata.slug: "passed" for kata in katas(repo)[1:]})  # n_plus_one is the last one left
    with RealWatch(katas(repo)[0]) as watching:
        watching.wait_for("✘ n_plus_one")
        saved = time.monotonic()
        watching.save_until(lambda: solve(repo, "n_plus_one"), "✔ n_plus_one passes")
        delay = time.monotonic() - saved
        watching.thread.join(timeout=300)  # the last line is printed, then watch ends by itself
    output = watching.output
    assert not watching.thread.is_alive()
    assert watching.outcome == [0]
    assert "s after the save" in output
    assert output.rstrip().endswith("uv run dojo progress shows your report."), output
    assert "Every kata is solved!" in output
    print(f"dojo watch: save → result in {delay:.2f} s")  # shown with -s


def test_watch_keeps_noticing_saves_after_a_reset_in_another_terminal(repo: Path) -> None:
    write_results(repo, {kata.slug: "passed" for kata in katas(repo)[1:]})
    (repo / "katas" / "n_plus_one" / "services.py").write_text("# my attempt\n", encoding="utf-8")
    with RealWatch(katas(repo)[0]) as watching:
        watching.wait_for("the code could not be loaded")  # services.py defines nothing
        backups.reset("n_plus_one")  # the folder is replaced as a whole
        watching.wait_for("checks fail.")  # the reset itself is a save: the starter is graded, and fails
        watching.save_until(lambda: solve(repo, "n_plus_one"), "Every kata is solved!")
        watching.thread.join(timeout=300)
    assert watching.outcome == [0]
    assert "saved: " in watching.output


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
    folder = tmp_path / "katas" / "n_plus_one"
    folder.mkdir(parents=True)
    changes = watch.FolderChanges(folder, None, poll=False)
    try:
        probe = folder / "probe.py"
        for number in itertools.count():  # until the watcher runs: it starts in a thread of its own
            probe.write_text(f"n = {number}\n")
            wait_for(lambda: "probe.py" in changes.waiting(), timeout=2, fail=False)
            if "probe.py" in changes.waiting():
                break
        assert next(changes)
        (folder / "services.py").write_text("a = 1\n")
        time.sleep(SAVE_GAP)  # a second save, as a separate batch, while "a grading runs"
        (folder / "models.py").write_text("b = 2\n")
        (tmp_path / "katas" / "other.py").write_text("c = 3\n")  # not in the kata's folder
        wait_for(lambda: {"services.py", "models.py"} <= changes.waiting(), timeout=120)
        batch = next(changes)
    finally:
        changes.close()
    assert {Path(name).name for _change, name in batch} - {"probe.py"} == {"services.py", "models.py"}
    assert next(changes, None) is None  # closed: the iteration ends


def wait_for(condition: Callable[[], bool], timeout: float, *, fail: bool = True) -> None:
    """Wait until `condition` holds: a generous deadline, and a failure only after it."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            if fail:
                raise AssertionError(f"timed out after {timeout} s")
            return
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
    assert "From your code (-) to the reference solution (+)" in out
    lesson = out.split("From your code", 1)[0]
    assert "my own note" not in lesson  # the lesson is the starter as shipped against the reference
    assert "--- katas/n_plus_one/services.py" in lesson
    assert "+++ solutions/n_plus_one/services.py" in lesson
    assert "http://127.0.0.1:8000/katas/n_plus_one/#reference-solution" in out


# --- state and bad input --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [("check", "n_plus_on"), ("watch", "n_plus_on"), ("hint", "n_plus_on"), ("reset", "n_plus_on"),
     ("solution", "n_plus_on"), ("backups", "n_plus_on")],
    ids=lambda command: command[0],
)  # fmt: skip
def test_an_unknown_kata_exits_2_with_the_closest_names(repo: Path, run: Run, command: tuple[str, ...]) -> None:
    status, _, err = run(*command)
    assert status == 2
    assert "There is no kata named 'n_plus_on'. Did you mean: n_plus_one" in err
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


def test_a_new_command_is_one_registered_function(repo: Path, run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "COMMANDS", dict(registry.COMMANDS))
    monkeypatch.setattr(app, "COMMANDS", registry.COMMANDS)

    @registry.command("greet", "say hello", registry.arg("name"))
    def greet(dojo: core.Dojo, args: argparse.Namespace) -> int:
        dojo.out.print(f"hello {args.name} from {dojo.repo.root.name}")
        return 0

    assert run("greet", "Ada") == (0, "hello Ada from dojo\n", "")
    assert "say hello" in run("--help")[1]


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
    first_lesson = next(iter({k.slug: k for k in katas(repo)}["webhook_idempotency"].lessons))
    assert failing["hints_used"] == 1
    assert failing["failures"] == [
        {
            "test": first_lesson,
            "rule": "DATA-3",
            "rule_title": "Idempotent webhooks",
            "rule_page": "rules/data-3/",
            "message": "webhook_idempotency still breaks DATA-3.",
            "broken": False,
        }
    ]
    assert status["graded_at"] == "2026-03-02T10:00:00+00:00"
