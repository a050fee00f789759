"""The grading plugin's rooms, tested on their own: planning (through pytest's own start-up, with
`pytester`), the scheduler of kata processes, and the rules of the layout (`dojo/plugin/`)."""

import ast
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from dojo import isolation, paths
from dojo.manifest import load_katas
from dojo.plugin.run import Run, run_of

pytest_plugins = ["pytester"]

PLUGIN = paths.REPO / "dojo" / "plugin"
GRADER = "graders/n_plus_one/test_monthly_statement.py"


@pytest.fixture
def plan(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> Callable[..., pytest.Config]:
    """pytest's start-up with the dojo plugin on `args`; what planning sets in the environment is undone."""
    for name in ("DOJO_KATA_ROOT", "DOJO_KATAS"):
        monkeypatch.setenv(name, os.environ.get(name, ""))
    monkeypatch.delenv(isolation.CHILD_KATA, raising=False)
    # the plan is the dojo plugin's alone: no installed plugin is loaded again in this process, but for the two
    # whose options `addopts` names
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")

    def parse(*args: str) -> pytest.Config:
        return pytester.parseconfig(
            "-p", "pytest_codeblocks.plugin", "-p", "pytest_timeout", "-p", "dojo.pytest_plugin", *args
        )

    return parse


def test_katas_plans_every_kata_in_manifest_order_in_a_process_each(plan: Callable[..., pytest.Config]) -> None:
    config = plan(str(paths.KATAS))
    run = run_of(config)
    assert run.slugs == [kata.slug for kata in load_katas()]
    assert run.role == "parent"
    assert run.kata_root == paths.KATAS
    assert run.selections == {}
    assert [str(arg) for arg in config.args] == [str(paths.GRADERS)]
    assert os.environ["DOJO_KATAS"] == "-"  # the parent loads no kata's code


def test_a_kata_of_the_solutions_plans_that_kata_alone_on_the_solutions(plan: Callable[..., pytest.Config]) -> None:
    config = plan(str(paths.SOLUTIONS / "n_plus_one"))
    run = run_of(config)
    assert run.slugs == ["n_plus_one"]
    assert run.kata_root == paths.SOLUTIONS
    assert os.environ["DOJO_KATA_ROOT"] == str(paths.SOLUTIONS)
    assert [str(arg) for arg in config.args] == [str(paths.GRADERS / "n_plus_one")]


def test_a_node_id_selects_its_check_and_the_kata_is_collected_whole(plan: Callable[..., pytest.Config]) -> None:
    check = "test_statement_of_a_month_without_invoices_is_empty"
    run = run_of(plan(f"{paths.KATAS}/n_plus_one/test_monthly_statement.py::{check}"))
    assert run.slugs == ["n_plus_one"]
    assert run.selections == {"n_plus_one": [f"{GRADER}::{check}"]}


def test_a_whole_kata_wins_over_a_node_id_in_it(plan: Callable[..., pytest.Config]) -> None:
    run = run_of(plan(f"{paths.KATAS}/n_plus_one/test_monthly_statement.py", str(paths.KATAS / "n_plus_one")))
    assert run.selections == {}


def test_a_spawned_child_gets_the_options_but_neither_the_paths_nor_the_report(
    plan: Callable[..., pytest.Config], tmp_path: Path
) -> None:
    run = run_of(plan(str(paths.KATAS), "--dojo-report", str(tmp_path / "r.json"), "-k", "empty"))
    assert run.child_options[run.child_options.index("-k") + 1] == "empty"
    assert "--dojo-report" not in run.child_options
    assert not any(option.startswith(str(paths.KATAS)) for option in run.child_options)


def test_an_unknown_kata_is_refused_with_the_closest_name(plan: Callable[..., pytest.Config]) -> None:
    with pytest.raises(pytest.UsageError, match="n_plus_one"):
        plan(str(paths.KATAS / "n_plus_on"))


def test_other_arguments_plan_no_grading(plan: Callable[..., pytest.Config], pytester: pytest.Pytester) -> None:
    run = run_of(plan(str(pytester.path)))
    assert run.role == "inert"
    assert run.slugs == []


def test_each_run_has_its_own_state(plan: Callable[..., pytest.Config], request: pytest.FixtureRequest) -> None:
    inner = run_of(plan(str(paths.KATAS / "n_plus_one")))
    assert inner is not run_of(request.config)
    assert run_of(request.config).slugs != ["n_plus_one"]


# --- the fixtures every grader gets ---


def test_the_harness_gives_every_grader_a_kata_and_a_committed_fixture(
    plan: Callable[..., pytest.Config], pytester: pytest.Pytester
) -> None:
    listed = pytester.runpytest_inprocess("-p", "dojo.pytest_plugin", "-p", "no:django", "--fixtures")
    listed.stdout.fnmatch_lines(["kata -- *dojo/plugin/fixtures.py*", "committed -- *dojo/plugin/fixtures.py*"])


def test_the_kata_fixture_is_refused_outside_a_grader(
    plan: Callable[..., pytest.Config], pytester: pytest.Pytester
) -> None:
    pytester.makepyfile(test_outside="def test_asks(kata):\n    pass\n")
    result = pytester.runpytest_inprocess("-p", "dojo.pytest_plugin", "-p", "no:django")
    result.assert_outcomes(failed=0, errors=1)
    result.stdout.fnmatch_lines(["*is not in a kata's grader*"])


def test_a_node_of_a_grader_belongs_to_its_kata() -> None:
    from types import SimpleNamespace

    from dojo.plugin.collection import kata_of

    inside = SimpleNamespace(path=paths.GRADERS / "n_plus_one" / "test_monthly_statement.py")
    outside = SimpleNamespace(path=paths.REPO / "tests" / "test_plugin.py")
    assert kata_of(inside).slug == "n_plus_one"  # type: ignore[arg-type, union-attr]
    assert kata_of(outside) is None  # type: ignore[arg-type]


# --- the scheduler ----------------------------------------------------------------------------------


def _forking(bodies: dict[str, Callable[[isolation.Child], None]]) -> Callable[[isolation.Child], None]:
    def start(child: isolation.Child) -> None:
        isolation.fork_child(child, lambda: bodies[child.slug](child))

    return start


def _wait_for(path: Path) -> None:
    """In a forked child: wait (a minute at most) until `path` exists."""
    for _ in range(6000):
        if path.exists():
            return
        time.sleep(0.01)


def test_children_come_back_in_the_order_given_even_when_a_later_one_ends_first(tmp_path: Path) -> None:
    second_done = tmp_path / "second-done"

    def first(child: isolation.Child) -> None:
        _wait_for(second_done)

    def second(child: isolation.Child) -> None:
        second_done.touch()

    scheduler = isolation.Scheduler(["first", "second"], _forking({"first": first, "second": second}), limit=2)
    ended = [(child.slug, child.exit_description()) for child in scheduler]
    assert ended == [("first", "exit code 0"), ("second", "exit code 0")]


def test_no_more_children_run_at_once_than_the_limit(tmp_path: Path) -> None:
    started: list[isolation.Child] = []
    unfinished_at_start: list[int] = []

    def start(child: isolation.Child) -> None:
        unfinished_at_start.append(sum(not earlier.poll() for earlier in started))
        started.append(child)
        isolation.fork_child(child, lambda: None)

    assert [child.slug for child in isolation.Scheduler(["a", "b", "c"], start, limit=1)] == ["a", "b", "c"]
    assert unfinished_at_start == [0, 0, 0]


def test_a_child_that_runs_too_long_is_stopped_and_says_so(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(isolation, "KATA_TIMEOUT_SECONDS", 0.2)

    def endless(child: isolation.Child) -> None:
        _wait_for(tmp_path / "never")

    (child,) = isolation.Scheduler(["endless"], _forking({"endless": endless}))
    assert child.timed_out
    assert child.exit_description() == "signal 9 (SIGKILL)"
    assert not child.completed


def test_a_child_hands_back_its_messages_and_a_crash_its_exit_code(tmp_path: Path) -> None:
    def talks(child: isolation.Child) -> None:
        isolation.become_child(child.channel, (tmp_path,))
        isolation.send("start", nodeid="a::b")
        isolation.send("done")

    def crashes(child: isolation.Child) -> None:
        raise RuntimeError("the grading itself failed")

    scheduler = isolation.Scheduler(["talks", "crashes"], _forking({"talks": talks, "crashes": crashes}))
    talked, crashed = scheduler
    assert talked.last("start") == {"kind": "start", "nodeid": "a::b"}
    assert talked.completed
    assert crashed.exit_description() == f"exit code {isolation.EXIT_CODE_CRASHED}"
    assert not crashed.completed


# --- the layout -------------------------------------------------------------------------------------


def _plugin_modules() -> Iterator[tuple[Path, ast.Module]]:
    for path in sorted(PLUGIN.glob("*.py")):
        yield path, ast.parse(path.read_text(encoding="utf-8"))


def test_no_module_of_the_plugin_keeps_state_of_its_own() -> None:
    """The run's state is on its `Run` object: no module-level list, dict or set, no `global`."""
    mutable = (ast.List, ast.Dict, ast.Set, ast.ListComp, ast.DictComp, ast.SetComp)
    found = []
    for path, tree in _plugin_modules():
        for node in tree.body:
            value = node.value if isinstance(node, ast.Assign | ast.AnnAssign) else None
            if isinstance(value, mutable) or (
                isinstance(value, ast.Call)
                and isinstance(value.func, ast.Name)
                and value.func.id in {"list", "dict", "set"}
            ):
                found.append(f"{path.name}:{node.lineno}")
        found += [f"{path.name}:{node.lineno} global" for node in ast.walk(tree) if isinstance(node, ast.Global)]
    assert found == []
    assert set(Run.__dataclass_fields__) >= {"results", "deselected", "warm", "kept"}


def _private_attributes(tree: ast.Module) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
            own = isinstance(node.value, ast.Name) and node.value.id in {"self", "cls"}
            names |= set() if own else {node.attr}
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("_pytest"):
            names.add(node.module or "")
    return names


def test_private_pytest_and_django_attributes_are_touched_in_processes_alone_and_listed_at_its_top() -> None:
    touched = {path.name: _private_attributes(tree) for path, tree in _plugin_modules()}
    assert {name for name, attributes in touched.items() if attributes} == {"processes.py"}
    listed = ast.get_docstring(ast.parse((PLUGIN / "processes.py").read_text(encoding="utf-8"))) or ""
    assert all(f"`{name}" in listed or f".{name}" in listed for name in touched["processes.py"])
    assert _private_attributes(ast.parse((paths.REPO / "dojo" / "pytest_plugin.py").read_text())) == set()


def test_the_plugin_module_that_pytest_loads_only_names_the_hooks() -> None:
    source = (paths.REPO / "dojo" / "pytest_plugin.py").read_text(encoding="utf-8")
    assert len(source.splitlines()) <= 15
    import dojo.pytest_plugin

    assert {"pytest_load_initial_conftests", "pytest_runtest_makereport", "pytest_terminal_summary"} <= set(
        dir(dojo.pytest_plugin)
    )


# --- the files-to-edit guard, written once ---------------------------------------------------------


def test_a_kata_with_an_edits_table_gets_the_files_to_edit_guard_under_its_usual_name() -> None:
    from dojo.manifest import EDITS_CHECK, kata_by_slug
    from dojo.plugin.edits import check_for

    kata = kata_by_slug()["n_plus_one"]
    assert kata.edits is not None
    assert kata.guards[EDITS_CHECK] == kata.edits.guard == "PERF-2"
    assert kata.rule_for(EDITS_CHECK) == "PERF-2"
    guard = check_for(kata)
    assert guard.__name__ == EDITS_CHECK
    assert guard.__doc__ == "Only services.py was changed: the models are as shipped."
    marks = [(mark.name, mark.args) for mark in guard.pytestmark]  # type: ignore[attr-defined]
    assert marks == [("guard", ("PERF-2",)), ("contract", (kata.edits.contract,))]
    written = [path for path in kata.grader_dir.glob("test_*.py") if f"def {EDITS_CHECK}(" in path.read_text()]
    assert written == []


def test_no_grader_writes_the_files_to_edit_guard_itself() -> None:
    """The harness owns the guard: a kata has it from its [edits] table or not at all."""
    from dojo.manifest import EDITS_CHECK, load_katas

    katas = load_katas()
    written = [
        kata.slug
        for kata in katas
        if any(f"def {EDITS_CHECK}(" in path.read_text() for path in kata.grader_dir.glob("test_*.py"))
    ]
    assert written == []
    guarded = sorted(kata.slug for kata in katas if kata.edits is not None)
    # test_the_logic opted in (services.py may not change); the other three never had it, so their results stay
    assert len(guarded) == 23, guarded
