"""What the in-browser runner writes into Pyodide's file system to grade one kata.

A bundle (`assets/runtime/katas/<slug>.json`) holds, by path in the repository: the harness (`dojo/`,
the manifest, the rules), the kata's grader, the reference solution `solutions/<slug>/` (whose context
files `dojo.grading.unexpected_edits` compares with, and which the generated scenarios use as their
oracle), and the starter of `katas/<slug>/`. The learner's edits
replace the editable files of the starter before each grading.
"""

import ast
import tokenize
import tomllib
from pathlib import Path

from dojo import paths
from dojo.manifest import Kata

# the katas whose grader runs on Pyodide, each check with the command line's verdict on SQLite
# (tests/test_browser.py compares them, starter and solution); the checks that need PostgreSQL are
# skipped there as on the command line with SQLite, so such a kata is never "solved" in the browser
IN_BROWSER = (
    "n_plus_one",
    "webhook_idempotency",
    "replayed_side_effects",
    "atomic_external_call",
    "schemas_not_models",
    "error_envelope",
    "cursor_pagination",
    "schema_n_plus_one",
    "thin_router",
    "service_authorization",
    "service_roles",
    "injectable_client",
    "http_client_wrapper",
    "idempotent_retries",
    "factories_not_fixtures",
    "raw_sql_injection",
    "timestamps_and_names",
    "missing_index",
    "utc_datetimes",
    "quadratic_reconciliation",
    "atomic_invariants",
    "on_commit_events",
    "at_least_once_consumer",
)
# why the others cannot, in the words the kata page shows
NOT_YET = "its grader has not yet been proven to give the command line's verdicts in the browser"
RUFF_WASM = "0.16.9"  # @astral-sh/ruff-wasm-web, the newest WebAssembly build of ruff on npm


def _locked_version(package: str) -> str:
    with (paths.REPO / "uv.lock").open("rb") as handle:
        locked = tomllib.load(handle)
    return str(next(entry["version"] for entry in locked["package"] if entry["name"] == package))


def _why_not_ruff() -> str:
    ruff = _locked_version("ruff")
    return (
        f"its grader runs ruff {ruff} as a program of its own, and the newest build of ruff that a browser can "
        f"run (WebAssembly, on npm) is {RUFF_WASM}, whose findings can differ from {ruff}'s"
    )


WHY_NOT = {
    "ruff_clean": _why_not_ruff(),
    "type_hints": (
        "its grader runs mypy --strict with the django-stubs plugin as a program of its own, which the browser "
        "cannot start"
    ),
    "test_the_logic": (
        "its grader runs your tests in a pytest of their own, inside the grading's pytest, which the browser's "
        "single process cannot start"
    ),
}
# why a check marked `@pytest.mark.postgresql` does not run in the browser
NEEDS_POSTGRESQL = (
    "it runs concurrent sessions against PostgreSQL (threads and row locks), and the browser has one thread and SQLite"
)
# why a check marked `@pytest.mark.threads` does not run in the browser
NEEDS_THREADS = "it runs another worker in a thread of its own, and the browser has one thread"
# why a check marked `@pytest.mark.command_line_only` does not run in the browser, unless the mark says why
# (`@pytest.mark.command_line_only("it runs ... in a process of its own, which the browser cannot start")`)
NOT_PROVEN = "it is not yet proven to give the command line's verdict in the browser"
COMMAND_LINE_ONLY = "pytest.mark.command_line_only"
HARNESS_SKIPPED = {"browser", "cli"}  # packages of dojo/ that grading never imports


def why_not(kata: Kata) -> str | None:
    """None when the kata runs in the browser, else the reason it does not."""
    return None if kata.slug in IN_BROWSER else WHY_NOT.get(kata.slug, NOT_YET)


def _command_line_only(decorator: ast.expr) -> str | None:
    """The reason a `command_line_only` mark gives (NOT_PROVEN when it gives none); None for another decorator."""
    if ast.unparse(decorator) == COMMAND_LINE_ONLY:
        return NOT_PROVEN
    if not isinstance(decorator, ast.Call) or ast.unparse(decorator.func) != COMMAND_LINE_ONLY:
        return None
    match decorator.args:
        case [ast.Constant(value=str(reason))] if not decorator.keywords:
            return reason
    raise ValueError(f"{ast.unparse(decorator)}: the mark takes one argument, the reason, as a string")


def not_in_browser(kata: Kata) -> dict[str, str]:
    """The kata's checks that the browser skips (marked `postgresql`, `threads` or `command_line_only`), by
    name, with the reason (read from the grader's source)."""
    skipped = {}
    for module in sorted(kata.grader_dir.glob("test_*.py")):
        with tokenize.open(module) as handle:
            tree = ast.parse(handle.read(), str(module))
        for node in tree.body:
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            marks = {ast.unparse(decorator) for decorator in node.decorator_list}
            reasons = [reason for decorator in node.decorator_list if (reason := _command_line_only(decorator))]
            if "pytest.mark.postgresql" in marks:
                skipped[node.name] = NEEDS_POSTGRESQL
            elif "pytest.mark.threads" in marks:
                skipped[node.name] = NEEDS_THREADS
            elif reasons:
                skipped[node.name] = reasons[0]
    return skipped


def _texts(root: Path, folder: Path, *, skip: frozenset[str] | set[str] = frozenset()) -> dict[str, str]:
    found = {}
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if not path.is_file() or path.suffix not in (".py", ".toml"):
            continue
        if any(part in skip or part == "__pycache__" for part in relative.parts):
            continue
        found[path.relative_to(root).as_posix()] = path.read_text(encoding="utf-8")
    return found


def kata_bundle(kata: Kata) -> dict[str, object]:
    """The files to write, the editable ones, and the starter, for one kata."""
    root = paths.REPO
    files = _texts(root, root / "dojo", skip=HARNESS_SKIPPED)
    files |= {name: (root / name).read_text(encoding="utf-8") for name in ("katas.toml", "rules.toml")}
    # every grader: the manifest reads each kata's details and finds each lesson check in its source
    files |= _texts(root, paths.GRADERS, skip={"decoys", "alternatives"})
    # the whole reference: its context files are what the learner's are compared with, and its edited
    # files are the oracle of the generated scenarios and of the whole-standard check (dojo.scenarios,
    # dojo.standard_guards)
    files |= _texts(root, paths.SOLUTIONS / kata.slug)
    starter = {
        path.relative_to(paths.KATAS / kata.slug).as_posix(): path.read_text(encoding="utf-8")
        for path in sorted((paths.KATAS / kata.slug).rglob("*.py"))
        if "__pycache__" not in path.parts
    }
    return {
        "slug": kata.slug,
        "files": files,
        "editable": list(kata.files),
        "starter": starter,
        "hints": list(kata.hints),
        "not_in_browser": not_in_browser(kata),
    }
