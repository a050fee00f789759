"""One audit, from a path to a report: discover, run every kind of check, filter, suppress, compare."""

import ast
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from dojo.audit import baseline, importtime, projectfiles, ruff, runtime, static, suppressions
from dojo.audit.findings import Finding, Noqa, Problem, Suppression
from dojo.audit.project import Project, UnreadableError, discover, parse
from dojo.audit.registry import Kind, all_checks, coverage
from dojo.rules import load_rules


class UsageError(ValueError):
    """The command line asks for something that does not exist; exit status 2."""


@dataclass(frozen=True)
class Options:
    path: Path
    settings: str | None = None
    python: str | None = None
    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    baseline: Path | None = None
    static_only: bool = False
    tests: bool = False
    pytest_args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)


@dataclass
class Report:
    project: Project
    rules: tuple[str, ...]  # the rules judged: selected, and judged on this kind of tree
    selected: tuple[str, ...]
    findings: list[Finding]
    suppressed: list[Suppression]
    refused: list[tuple[str, suppressions.Comment]]
    noqa: list[Noqa]
    problems: list[Problem]
    versions: dict[str, str]
    import_checks_ran: bool
    runtime_checks_ran: bool = False
    found: dict[str, int] = field(default_factory=dict)  # what the loaded project holds: apps, models, APIs
    tests_summary: str = ""
    baseline_matched: int = 0
    seconds: float = 0.0
    not_run: dict[str, str] = field(default_factory=dict)  # check name -> why its evidence did not come in
    # PY-2 as coverage: package -> (parameters and return values annotated, all of them)
    annotations: dict[str, tuple[int, int]] = field(default_factory=dict)
    tests_passed: bool | None = None  # under --tests: whether the project's own tests passed
    test_notes: list[str] = field(default_factory=list)  # how the tests ran (with the network, and why)
    written: list[str] = field(default_factory=list)  # what the project's tests left in its tree

    @property
    def left_out(self) -> tuple[str, ...]:
        """The rules `--select`/`--ignore` left out."""
        return tuple(rule for rule in load_rules() if rule not in self.selected)

    @property
    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(self.rules, 0)
        for finding in self.findings:
            counts[finding.rule] += 1
        return counts


def rules_selected(select: Collection[str], ignore: Collection[str]) -> tuple[str, ...]:
    """Rule IDs chosen by `--select` and `--ignore`: an ID (`PERF-2`) or a section prefix (`PERF`)."""
    known = list(load_rules())

    def expand(names: Collection[str]) -> set[str]:
        chosen: set[str] = set()
        for name in names:
            matches = {rule for rule in known if rule == name.upper() or rule.split("-")[0] == name.upper()}
            if not matches:
                raise UsageError(f"unknown rule {name!r}: rules.toml has {', '.join(known)}")
            chosen |= matches
        return chosen

    selected = expand(select) if select else set(known)
    selected -= expand(ignore)
    return tuple(rule for rule in known if rule in selected)


def audit(options: Options, facts: importtime.Facts | None = None) -> Report:
    """Audit one path. `facts` from an earlier `importtime.gather()` of several apps saves loading Django again."""
    started = time.perf_counter()
    rules = rules_selected(options.select, options.ignore)
    project = discover(options.path, settings=options.settings, python=options.python, env=options.env)
    findings: list[Finding] = []
    facts_list: list[static.ModuleFacts] = []
    lint_files = []
    annotations: dict[str, tuple[int, int]] = {}
    unread: set[str] = set()
    for source in project.files:
        try:
            tree, lines, error = parse(source)
        except UnreadableError as unreadable:  # listed, never judged on garbled text
            project.problems.append(Problem(source.relative, str(unreadable)))
            unread.add(source.relative)
            continue
        if error is not None or tree is None:
            line = error.lineno or 1 if error is not None else 1
            message = (
                f"The file does not parse: {error.msg if error is not None else 'unknown error'} (the rest is audited)."
            )
            findings.append(Finding(source.relative, line, "PY-3", "ruff-lint", message))
            continue
        if not source.is_migration:
            done, total = annotation_slots(tree)
            package = package_of(source.relative)
            before = annotations.get(package, (0, 0))
            annotations[package] = (before[0] + done, before[1] + total)
        checks = static.FileChecks(source, tree, lines)
        findings += checks.run()
        facts_list.append(checks.facts)
        if not source.is_migration:
            lint_files.append(source)
    findings += static.project_checks(facts_list, app_folder=project.app_folder)
    findings += projectfiles.check(project)
    ruff_result = ruff.run(project, lint_files)
    trees = {fact.source.relative: fact for fact in facts_list}
    findings += [finding for finding in ruff_result.findings if _judged_naive(finding, trees)]
    problems = [*project.problems, *ruff_result.problems]
    versions: dict[str, str] = {"ruff": ruff.ruff_version().removeprefix("ruff ")}
    ran_import = False
    opted_out: list[Suppression] = []
    found: dict[str, int] = {}
    if not options.static_only:
        facts = facts or importtime.gather(project, options.env)
        versions |= facts.versions
        more, opted_out, trouble = importtime.check(project, facts)
        found = importtime.inventory(project, facts) if not facts.error else {}
        findings += more
        problems += trouble
        ran_import = not facts.error
    runtime_ran, tests_summary = False, ""
    not_run: dict[str, str] = {}
    tests_passed: bool | None = None
    test_notes: list[str] = []
    written: list[str] = []
    if options.static_only:
        not_run |= _checks_of(Kind.IMPORT, "--static-only does not load the project's Django")
    elif not ran_import:
        why = facts.error.strip().splitlines()[-1] if facts is not None and facts.error.strip() else "unknown error"
        not_run |= _checks_of(Kind.IMPORT, f"the settings did not load: {why}"[:300])
    elif not found.get("NinjaAPIs"):
        apis = f"its APIs: {found.get('DRF views', 0)} DRF views" if found.get("DRF views") else "no API found"
        not_run |= dict.fromkeys(NINJA_ONLY, f"no NinjaAPI is mounted ({apis}); this check reads Django Ninja's")
    if options.tests:
        outcome = runtime.run(project, options.env, options.pytest_args)
        findings += outcome.findings
        problems += outcome.problems
        runtime_ran, tests_summary = outcome.ran, outcome.summary
        tests_passed, test_notes, written = outcome.passed, outcome.notes, outcome.written
        if not outcome.ran:
            why = outcome.problems[0].message if outcome.problems else "the tests did not run"
            not_run |= _checks_of(Kind.RUNTIME, why)
        elif outcome.not_judged:
            not_run |= _checks_of(Kind.RUNTIME, f"the project's tests did not all run: {outcome.not_judged}")
    else:
        not_run |= _checks_of(Kind.RUNTIME, "runs with --tests")
    judged = set(rules)
    if project.app_folder:
        judged = {rule for rule in judged if not coverage()[rule].project_only}
    findings = sorted({_located(finding, project) for finding in findings if finding.rule in judged})
    kept, hidden, refused = suppressions.apply(findings, project.root)
    hidden += [item for item in opted_out if item.finding.rule in judged]
    matched = 0
    if options.baseline is not None:
        kept, matched = baseline.new_findings(kept, baseline.read(options.baseline))
    noqa = sorted(
        {item for item in ruff_result.noqa if item.rule in judged},
        key=lambda item: (item.path, item.finding_line, item.code),
    )
    return Report(
        project=project,
        rules=tuple(rule for rule in rules if rule in judged),
        selected=rules,
        findings=kept,
        suppressed=hidden,
        refused=refused,
        noqa=noqa,
        problems=problems,
        versions=versions,
        import_checks_ran=ran_import,
        runtime_checks_ran=runtime_ran,
        found=found,
        tests_summary=tests_summary,
        baseline_matched=matched,
        seconds=time.perf_counter() - started,
        not_run=not_run,
        annotations=annotations,
        tests_passed=tests_passed,
        test_notes=test_notes,
        written=written,
    )


def _judged_naive(finding: Finding, trees: Mapping[str, static.ModuleFacts]) -> bool:
    """DJ-5 from ruff's DTZ codes: only a naive value that can reach storage or a query is a finding."""
    if finding.check != "ruff-naive-datetimes" or finding.path not in trees:
        return True
    return static.naive_value_kept(trees[finding.path].tree, finding.line)


ANCHORS = ("manage.py", "pyproject.toml", "setup.cfg", "setup.py")


def _located(finding: Finding, project: Project) -> Finding:
    """The finding at a real file of the project: one about the project as a whole (no pyproject.toml, no
    Python version anywhere), or about code outside the audited tree, is placed on its first line of
    manage.py or pyproject.toml, and says where it was."""
    if finding.path and not finding.path.startswith("/") and (project.root / finding.path).is_file():
        return finding
    anchor = next((name for name in ANCHORS if (project.root / name).is_file()), None)
    if anchor is None:
        anchor = project.files[0].relative if project.files else None
    if anchor is None:
        return finding
    place = f" (at {finding.path}:{finding.line})" if finding.path not in ("", ".") else ""
    return replace(finding, path=anchor, line=1, message=finding.message + place, text="")


def annotation_slots(tree: ast.Module) -> tuple[int, int]:
    """The parameters and return values of a file's functions that have a type hint, and all of them
    (`self` and `cls` of methods are not counted, as ruff does not ask for them)."""
    done = total = 0
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        arguments = node.args
        params = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]
        params += [extra for extra in (arguments.vararg, arguments.kwarg) if extra is not None]
        params = [param for param in params if param.arg not in ("self", "cls")]
        total += len(params) + 1
        done += sum(param.annotation is not None for param in params) + (node.returns is not None)
    return done, total


def package_of(relative: str) -> str:
    """The package a file counts under in PY-2's coverage: its top folder, or two for `apps/`, `src/`."""
    parts = relative.split("/")[:-1]
    if not parts:
        return "."
    depth = 2 if parts[0] in ("apps", "src", "backend", "server") and len(parts) > 1 else 1
    return "/".join(parts[:depth])


# checks that read Django Ninja's routes and schemas: on a project without a NinjaAPI, "not judged"
NINJA_ONLY = ("api-response-schemas", "api-error-shape", "api-pagination", "hand-parsed-requests")


def _checks_of(kind: Kind, why: str) -> dict[str, str]:
    return {check.name: why for check in all_checks() if check.kind is kind}
