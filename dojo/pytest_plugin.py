"""The grading contract, as a pytest plugin (loaded with `-p dojo.pytest_plugin`).

* `pytest katas` and `pytest katas/<slug>` run the graders in `graders/` against the learner's code;
  `--solutions` runs the same graders against `solutions/`, `--kata-root DIR` against any tree.
* A kata that cannot be loaded becomes one failing item with a readable message; the others run.
* A failing lesson test names its rule and the page to read; a summary per kata ends the run, and
  the results are written as JSON (`.dojo/results.json` for the learner's tree).
"""

import difflib
import json
import os
import sys
from collections.abc import Generator, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from dojo import paths
from dojo.manifest import Kata, kata_by_slug, load_katas
from dojo.problems import BROKEN, describe_error
from dojo.rules import load_rules, rule_url

GRADER_TIMEOUT_SECONDS = float(os.environ.get("DOJO_GRADER_TIMEOUT", "10"))
TREES = {"katas": paths.KATAS, "solutions": paths.SOLUTIONS}
RESULTS_KEY = pytest.StashKey[dict[str, list[dict[str, Any]]]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("dojo", "Backend Standards Dojo")
    group.addoption("--solutions", action="store_true", help="grade the reference solutions/ instead of katas/")
    group.addoption("--kata-root", metavar="DIR", help="grade the katas found in DIR (a tree shaped like katas/)")
    group.addoption("--dojo-report", metavar="FILE", help="also write the grading results as JSON to FILE")


def _option_value(args: list[str], name: str) -> str | None:
    for index, arg in enumerate(args):
        if arg == name and index + 1 < len(args):
            return args[index + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


def _grader_path(arg: str, invocation_dir: Path) -> tuple[str, str | None] | None:
    """Map `katas[/<slug>[/...]]` (or `solutions/...`) to the graders; None for other arguments."""
    if arg.startswith("-"):
        return None
    path_part = arg.split("::", 1)[0]
    target = (invocation_dir / path_part).resolve()
    for tree_name, tree in TREES.items():
        if target == tree:
            return str(paths.GRADERS), tree_name
        if target.is_relative_to(tree):
            slug = target.relative_to(tree).parts[0]
            katas = kata_by_slug()
            if slug not in katas:
                close = difflib.get_close_matches(slug, list(katas), n=3)
                suggestion = f" Did you mean: {', '.join(close)}?" if close else ""
                raise pytest.UsageError(
                    f"There is no kata named {slug!r}.{suggestion} `uv run dojo list` shows them all."
                )
            return str(paths.GRADERS / slug), tree_name
    return None


@pytest.hookimpl(wrapper=True)
def pytest_load_initial_conftests(
    early_config: pytest.Config, parser: pytest.Parser, args: list[str]
) -> Generator[None, object, object]:
    """Route `katas/...` to the graders and choose the tree to grade, before Django is set up."""
    chosen = _option_value(args, "--kata-root")
    routed: list[tuple[int, str, str | None]] = []
    for index, arg in enumerate(args):
        if index > 0 and args[index - 1] in ("--kata-root", "--dojo-report", "-k", "-m", "-p"):
            continue
        mapped = _grader_path(arg, early_config.invocation_params.dir)
        if mapped is not None:
            routed.append((index, *mapped))
    for index, grader_path, _tree in routed:
        args[index] = grader_path
    trees = {tree for _index, _path, tree in routed}
    graded = [Path(grader_path) for _index, grader_path, _tree in routed]
    if graded and paths.GRADERS not in graded:
        # only some katas are graded: only their apps are installed, so Django loads and the test
        # database holds no other kata's models
        os.environ["DOJO_KATAS"] = ",".join(sorted({path.name for path in graded}))
    if chosen is None:
        chosen = str(paths.SOLUTIONS if "--solutions" in args or "solutions" in trees else paths.KATAS)
    os.environ["DOJO_KATA_ROOT"] = str(Path(chosen).resolve())
    # no __pycache__ folders inside the kata trees, so that `diff -r katas/X solutions/X` shows the
    # lesson only: bytecode goes to .dojo/pycache, or nowhere for a throwaway tree (--kata-root)
    if _option_value(args, "--kata-root") is None:
        sys.pycache_prefix = sys.pycache_prefix or str(paths.STATE / "pycache")
    else:
        sys.dont_write_bytecode = True
    namespace = early_config.known_args_namespace
    namespace.file_or_dir = [
        mapped[0] if (mapped := _grader_path(str(arg), early_config.invocation_params.dir)) else arg
        for arg in namespace.file_or_dir
    ]
    return (yield)


def _kata_of(node: pytest.Item | pytest.Collector) -> Kata | None:
    path = Path(node.path)
    if not path.is_relative_to(paths.GRADERS):
        return None
    parts = path.relative_to(paths.GRADERS).parts
    return kata_by_slug().get(parts[0]) if parts else None


def _kata_root() -> Path:
    return Path(os.environ.get("DOJO_KATA_ROOT", paths.KATAS))


def _tree_label(root: Path) -> str:
    for name, tree in TREES.items():
        if root.resolve() == tree:
            return f"{name}/"
    return str(root)


class BrokenKataError(Exception):
    """The kata's code could not be loaded; the message says where and why."""


class BrokenKata(pytest.Item):
    """Stands in for a grader module whose kata cannot be loaded, so every other kata still runs."""

    def __init__(self, *, problem: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.problem = problem

    def runtest(self) -> None:
        raise BrokenKataError(self.problem)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, BrokenKataError):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"{self.name}"


class GraderModule(pytest.Module):
    """A grader file: collected normally unless its kata is broken."""

    def collect(self) -> Iterable[pytest.Item | pytest.Collector]:
        kata = _kata_of(self)
        if kata is not None and kata.slug in BROKEN:
            return [BrokenKata.from_parent(self, name="kata_loads", problem=BROKEN[kata.slug])]
        try:
            return list(super().collect())
        except Exception as error:
            cause = error.__cause__ or error
            if kata is None:
                raise
            problem = describe_error(cause, _kata_root() / kata.slug)
            return [BrokenKata.from_parent(self, name="kata_loads", problem=problem)]


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """A grader folder the manifest does not list (a kata being written) is left out, not an error."""
    if collection_path.is_dir() and collection_path.parent == paths.GRADERS:
        return collection_path.name not in kata_by_slug() and collection_path.name != "__pycache__"
    return None


def pytest_pycollect_makemodule(module_path: Path, parent: pytest.Collector) -> pytest.Module | None:
    if module_path.is_relative_to(paths.GRADERS):
        return GraderModule.from_parent(parent, path=module_path)
    return None


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "postgresql: the check needs PostgreSQL (row locks, concurrent sessions)")
    config.stash[RESULTS_KEY] = {}
    if _grading(config) and config.getoption("tbstyle") == "auto":
        config.option.tbstyle = "short"


def _grading(config: pytest.Config) -> bool:
    return any(Path(str(arg)).resolve().is_relative_to(paths.GRADERS) for arg in config.args)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    order = {kata.slug: position for position, kata in enumerate(load_katas())}
    from django.conf import settings

    on_postgresql = "postgresql" in settings.DATABASES["default"]["ENGINE"]
    needs_postgresql = pytest.mark.skip(
        reason="needs PostgreSQL: run with DATABASE_URL=postgres://postgres@127.0.0.1:5432/test (CI does)"
    )
    for item in items:
        if item.get_closest_marker("postgresql") and not on_postgresql:
            item.add_marker(needs_postgresql)
        if _kata_of(item) is not None and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(GRADER_TIMEOUT_SECONDS))
        if _kata_of(item) is not None and isinstance(item, pytest.Function):
            _show_only_learner_frames(item)
    # katas run in manifest order; within a kata, in the order the grader is written
    positions = {id(item): index for index, item in enumerate(items)}
    items.sort(
        key=lambda item: (
            order.get(kata.slug, -1) if (kata := _kata_of(item)) else -1,
            positions[id(item)],
        )
    )


def _show_only_learner_frames(item: pytest.Function) -> None:
    """Failures show the frames of the grader and of the kata only, not Django's or httpx's insides.

    Reading the learner's code is what helps; formatting library frames also cost a full grading run
    a second. `--fulltrace` still shows everything. (`_traceback_filter` is pytest's own hook point
    for this, on the item.)
    """
    learner_code = (paths.GRADERS, _kata_root().resolve())
    standard_filter = item._traceback_filter

    def learner_frames(excinfo: pytest.ExceptionInfo[BaseException]) -> Any:
        traceback = standard_filter(excinfo)
        if item.config.getoption("fulltrace", False):
            return traceback
        kept = traceback.filter(
            lambda entry: any(Path(str(entry.path)).resolve().is_relative_to(root) for root in learner_code)
        )
        return kept if len(kept) else traceback[-1:]

    item._traceback_filter = learner_frames  # type: ignore[method-assign]


def _lesson_text(kata: Kata, item: pytest.Item, report: pytest.TestReport) -> tuple[str, str]:
    rule_id = kata.rule_for(item.name)
    if isinstance(item, BrokenKata):
        return "kata", f"Kata `{kata.slug}` could not be graded; see above."
    if _first_line_of_failure(report).startswith("Timeout"):
        head = f"This check ran for more than {GRADER_TIMEOUT_SECONDS:g} s: look for a loop that never ends.\n"
    else:
        head = ""
    if rule_id is None:
        return (
            "behaviour",
            head + f"This check is not the lesson: the code no longer does what it did. "
            f"Re-read katas/{kata.slug}/README.md: the result must stay the same.",
        )
    rule = load_rules()[rule_id]
    return (
        f"{rule.id} · {rule.title}",
        head + f"This is the lesson of `{kata.slug}`: rule {rule.id} ({rule.title}).\n"
        f"Read the rule: {rule_url(rule.id)}\n"
        f"The kata, with hints: {paths.SITE_URL}/{kata.page} · hints: `uv run dojo hint {kata.slug}`",
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    kata = _kata_of(item)
    if kata is None:
        return report
    if report.failed:
        title, text = _lesson_text(kata, item, report)
        addsection = getattr(report.longrepr, "addsection", None)
        if callable(addsection):
            addsection(title, text)
        else:
            report.longrepr = f"{report.longrepr}\n\n--- {title} ---\n{text}"
    if report.when == "call" or report.failed or report.skipped:
        message = _first_line_of_failure(report) if report.failed else ""
        results = item.config.stash[RESULTS_KEY].setdefault(kata.slug, [])
        results[:] = [entry for entry in results if entry["test"] != item.name]
        results.append(
            {
                "test": item.name,
                "outcome": report.outcome,
                "rule": kata.rule_for(item.name),
                "message": message,
                "broken": isinstance(item, BrokenKata),
            }
        )
    return report


def _first_line_of_failure(report: pytest.TestReport) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    text = str(crash.message) if crash is not None else str(report.longrepr)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    meaningful = [line for line in lines if not line.startswith(("assert ", "where ", "+", "-"))]
    first = (meaningful or lines or [""])[0]
    return first.removeprefix("AssertionError: ").removeprefix("Failed: ")[:500]


def _kata_status(entries: list[dict[str, Any]]) -> str:
    if any(entry["broken"] for entry in entries):
        return "broken"
    if any(entry["outcome"] == "failed" for entry in entries):
        return "failing"
    return "passed" if any(entry["outcome"] == "passed" for entry in entries) else "skipped"


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    results = config.stash[RESULTS_KEY]
    if not results:
        return
    root = _kata_root()
    katas = kata_by_slug()
    write = terminalreporter.write_line
    terminalreporter.section(f"kata results ({_tree_label(root)})", sep="=")
    marks = {"passed": "PASS", "failing": "FAIL", "broken": "FAIL", "skipped": "SKIP"}
    for kata in load_katas():
        entries = results.get(kata.slug)
        if entries is None:
            continue
        status = _kata_status(entries)
        failed = [entry for entry in entries if entry["outcome"] == "failed"]
        line = f"{marks[status]}  {kata.slug:<28} {', '.join(kata.rules):<18}"
        if status == "broken":
            line += "  the code could not be loaded (see above)"
        elif failed:
            lessons = sorted({entry["rule"] for entry in failed if entry["rule"]})
            line += f"  {len(failed)} of {len(entries)} checks fail"
            if lessons:
                line += f"; read {', '.join(rule_url(r).split(' ')[0] for r in lessons)}"
        write(line, red=status in ("failing", "broken"), green=status == "passed")
    _write_results(config, root, results, katas)


def _write_results(
    config: pytest.Config, root: Path, results: dict[str, list[dict[str, Any]]], katas: dict[str, Kata]
) -> None:
    document = {
        "tree": _tree_label(root),
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "katas": {slug: {"status": _kata_status(entries), "tests": entries} for slug, entries in results.items()},
    }
    report = config.getoption("dojo_report")
    if report:
        Path(report).write_text(json.dumps(document, indent=2), encoding="utf-8")
    if root.resolve() == paths.KATAS and not config.getoption("kata_root"):
        # the learner's own results, merged with earlier runs of other katas
        target = paths.STATE / "results.json"
        try:
            previous = json.loads(target.read_text(encoding="utf-8"))
            merged = {slug: v for slug, v in previous.get("katas", {}).items() if slug in katas}
        except (OSError, ValueError, AttributeError):
            merged = {}
        merged.update(document["katas"])  # type: ignore[arg-type]
        document["katas"] = merged
        paths.STATE.mkdir(exist_ok=True)
        target.write_text(json.dumps(document, indent=2), encoding="utf-8")
