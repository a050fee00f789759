"""The checks every kata gets from the harness: the fix obeys the whole standard, not only the lesson.

A fix that passes its kata's lesson but breaks another rule (a raw query where the ORM would do, a
model change without its migration, an index name Django refuses) is not a fix we would merge. Every
kata's contract ends with the same line, "The fix obeys the whole backend standard", and these checks
grade it:

- Django's system checks on the kata's app find no error (models.E034, a 38-character index name,
  stops `migrate` on every database);
- a kata with migrations has none missing: `makemigrations --check` finds no change;
- the audit's static checks (the same code as `dojo audit`, on the syntax tree alone, so they also run
  in the browser) find nothing in the graded kata folder, new files included, that they do not find in
  the reference solution.

Lint and format findings (PY-3, PY-4) and type hints (PY-2) are graded by the katas that teach them,
with ruff and mypy: programs of their own, which the browser cannot start.
"""

import ast
import io
import tokenize
from collections import Counter
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
from django.apps import apps
from django.core import checks
from django.core.management import call_command

from dojo import paths
from dojo.audit import static
from dojo.audit.findings import Finding
from dojo.audit.project import SourceFile
from dojo.grading import check, kata_dir
from dojo.manifest import Kata, kata_by_slug

#: rules the audit's static checks judge that are graded elsewhere, by the katas that teach them
GRADED_BY_THEIR_KATAS = frozenset({"PY-2", "PY-3", "PY-4"})


def _python_files(root: Path) -> list[Path]:
    return sorted(
        path
        for path in root.rglob("*.py")
        if path.is_file() and "__pycache__" not in path.parts and not path.name.startswith(".")
    )


def _read(path: Path) -> str | None:
    try:
        with tokenize.open(path) as handle:
            return handle.read()
    except (OSError, SyntaxError, UnicodeDecodeError):
        return None


#: calls that reach past the ORM (DJ-4); the audit finds them with ruff, which the browser cannot run
_RAW_SQL_CALLS = frozenset({"raw", "extra", "RawSQL"})


def _raw_sql_call(call: ast.Call) -> str:
    """The name of a call that runs hand-written SQL ("" for any other call)."""
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    receiver = ast.unparse(func.value) if isinstance(func, ast.Attribute) else ""
    if name in _RAW_SQL_CALLS:
        return name
    if name == "cursor" and ("connection" in receiver or receiver.startswith("connections")):
        return name
    if name in ("execute", "executemany") and "cursor" in receiver:
        return name
    return ""


def _raw_sql(source: SourceFile, tree: ast.Module, lines: list[str]) -> list[Finding]:
    """Raw SQL in the kata's code: `.raw()`, `.extra()`, `RawSQL()`, a cursor and what it executes."""
    if source.is_test or source.is_migration:
        return []
    found = []
    for node in ast.walk(tree):
        name = _raw_sql_call(node) if isinstance(node, ast.Call) else ""
        if name and isinstance(node, ast.Call):
            text = lines[node.lineno - 1].strip() if 0 < node.lineno <= len(lines) else ""
            message = f"`{name}()` runs SQL written by hand: use the ORM, or parameterize, review and test it."
            found.append(Finding(source.relative, node.lineno, "DJ-4", "raw-sql", message, text))
    return found


def static_findings(root: Path) -> list[Finding]:
    """What the audit's syntax-tree checks find in one kata folder (files that do not parse are left out)."""
    findings: list[Finding] = []
    facts = []
    for path in _python_files(root):
        text = _read(path)
        if text is None:
            continue
        try:
            tree = ast.parse(text, filename=str(path))
        except SyntaxError:
            continue
        source = SourceFile(path, path.relative_to(root).as_posix())
        file_checks = static.FileChecks(source, tree, text.splitlines())
        findings += file_checks.run() + _raw_sql(source, tree, text.splitlines())
        facts.append(file_checks.facts)
    findings += static.project_checks(facts, app_folder=True)
    return [finding for finding in findings if finding.rule not in GRADED_BY_THEIR_KATAS]


def _shape(finding: Finding) -> tuple[str, str, str]:
    """A finding without its place: a fix may move code, and the reference's line numbers are not the learner's."""
    return finding.rule, finding.check, finding.message


def findings_beyond_the_reference(slug: str, graded: Path) -> list[Finding]:
    """The static findings of the graded kata folder that the reference solution does not have."""
    allowed = Counter(_shape(finding) for finding in static_findings(paths.SOLUTIONS / slug))
    extra: list[Finding] = []
    for finding in sorted(static_findings(graded)):
        if allowed[_shape(finding)] > 0:
            allowed[_shape(finding)] -= 1
        else:
            extra.append(finding)
    return extra


def system_check_errors(slug: str) -> list[str]:
    """Django's system checks on the kata's app: the errors, each as Django words it (`id: message`)."""
    config = apps.get_app_config(slug)
    messages = checks.run_checks(app_configs=[config], include_deployment_checks=False)
    return [
        f"{message.id}: {message.msg}" + (f" ({message.obj})" if message.obj is not None else "")
        for message in messages
        if message.level >= checks.ERROR
    ]


def missing_migrations(slug: str) -> str:
    """What `makemigrations --check --dry-run` would write for the kata's app ("" when nothing)."""
    out = io.StringIO()
    try:
        with redirect_stdout(out), redirect_stderr(out):
            call_command("makemigrations", slug, check=True, dry_run=True, interactive=False, verbosity=1)
    except SystemExit as exit_:
        if exit_.code not in (0, None):
            return out.getvalue().strip() or "makemigrations --check found changes"
    return ""


def _slug(request: pytest.FixtureRequest) -> str:
    """The kata whose grader this check was collected into (graders/<slug>/test_*.py)."""
    return Path(request.node.path).resolve().relative_to(paths.GRADERS).parts[0]


def _rule_page(rule: str) -> str:
    return f"{paths.SITE_URL}/rules/{rule.lower()}/"


def test_django_system_checks_find_no_error(request: pytest.FixtureRequest) -> None:
    """Django's system checks find no error in the kata's app."""
    __tracebackhide__ = True
    errors = system_check_errors(_slug(request))
    check(
        not errors,
        "Django's system checks refuse the kata's app, so `migrate` and `runserver` would stop on it:\n"
        + "\n".join(f"  {error}" for error in errors),
    )


def test_every_model_change_has_its_migration(request: pytest.FixtureRequest) -> None:
    """Every model change has its migration."""
    __tracebackhide__ = True
    slug = _slug(request)
    if not kata_by_slug()[slug].migrations:
        return  # the kata's tables are built straight from its models: there are no migrations to keep
    pending = missing_migrations(slug)
    check(
        not pending,
        "A model change has no migration: `uv run python manage.py makemigrations` would write one, so the "
        f"database and the models disagree wherever this kata is deployed.\n{pending}",
    )


def test_the_audit_finds_nothing_the_reference_does_not(request: pytest.FixtureRequest) -> None:
    """The audit finds nothing in the kata folder that it does not find in the reference solution."""
    __tracebackhide__ = True
    slug = _slug(request)
    own_rules = set(kata_by_slug()[slug].rules)  # the kata's own rules are graded by its lesson checks
    extra = [
        finding for finding in findings_beyond_the_reference(slug, kata_dir(slug)) if finding.rule not in own_rules
    ]
    check(
        not extra,
        "The fix breaks other rules of the standard, which the reference solution does not:\n"
        + "\n".join(
            f"  {finding.path}:{finding.line}: {finding.rule} {finding.message} ({_rule_page(finding.rule)})"
            for finding in extra
        )
        + "\nA kata is solved by a fix we would merge: one that obeys the whole standard, not only this kata's rule.",
    )


#: the checks the harness adds to every kata's grader, under these names
CHECKS = (
    test_django_system_checks_find_no_error,
    test_every_model_change_has_its_migration,
    test_the_audit_finds_nothing_the_reference_does_not,
)


def add_to(module: pytest.Module, kata: Kata, items: list[pytest.Item | pytest.Collector]) -> None:
    """Add the checks after those of the kata's first grader file, once per kata."""
    first = min(kata.grader_dir.glob("test_*.py"), default=None)
    if first is None or first.resolve() != module.path.resolve():
        return
    names = {item.name for item in items}
    missing = [check_function for check_function in CHECKS if check_function.__name__ not in names]
    items += [pytest.Function.from_parent(module, name=f.__name__, callobj=f) for f in missing]
