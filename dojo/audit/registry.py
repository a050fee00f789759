"""The one list of what the audit checks: every rule of the standard, its checks, and what it cannot check.

The audit runs these checks, the report lists the rules without any, and the site's rule pages say
"How it is checked" from `checks_for()`. Nothing about coverage is written anywhere else.
"""

from dataclasses import dataclass
from enum import StrEnum
from functools import cache

from dojo.rules import load_rules


class Kind(StrEnum):
    """When a check runs: on the source, with the project's Django loaded, or during its tests."""

    STATIC = "static"
    IMPORT = "import"
    RUNTIME = "runtime"


@dataclass(frozen=True)
class Check:
    """One check: its name in reports, the rule it serves, and one line of what it finds."""

    name: str
    rule: str
    kind: Kind
    finds: str


@dataclass(frozen=True)
class Coverage:
    """How one rule is audited.

    `unchecked` says what part of the rule no check can judge, and why ("" when the checks cover it).
    `project_only` says why the rule is judged on a whole project but not on one app folder ("" when
    an app folder is judged too): the katas are app folders, and the project's tests hold each kata to
    the rules judged there.
    """

    rule: str
    checks: tuple[Check, ...]
    unchecked: str = ""
    project_only: str = ""

    @property
    def judged_on_app_folder(self) -> bool:
        return bool(self.checks) and not self.project_only


def _coverage(rule: str, *checks: tuple[str, Kind, str], unchecked: str = "", project_only: str = "") -> Coverage:
    return Coverage(
        rule=rule,
        checks=tuple(Check(name=name, rule=rule, kind=kind, finds=finds) for name, kind, finds in checks),
        unchecked=unchecked,
        project_only=project_only,
    )


S, IMP, R = Kind.STATIC, Kind.IMPORT, Kind.RUNTIME
_PROJECT_FILES = "the project's files (pyproject.toml, lock file, Dockerfile, CI) are not part of an app"

COVERAGE: tuple[Coverage, ...] = (
    _coverage(
        "PY-1",
        ("python-version", S, "a `requires-python` or `.python-version` that allows a Python older than 3.12"),
        project_only=_PROJECT_FILES,
    ),
    _coverage(
        "PY-2",
        ("ruff-annotations", S, "a function argument or return value without a type hint (ruff ANN, but ANN401)"),
        unchecked="whether an `Any` sits at an integration boundary, with its comment, is for review",
    ),
    _coverage(
        "PY-3",
        ("ruff-format", S, "a file that `ruff format` would change"),
        (
            "ruff-lint",
            S,
            "a finding of ruff's default rules (pyflakes and pycodestyle errors), or a file that does not parse",
        ),
    ),
    _coverage("PY-4", ("ruff-isort", S, "an import block out of order: stdlib, third-party, local (ruff I001)")),
    _coverage(
        "PKG-1",
        ("uv-project", S, "a pyproject.toml without uv.lock, or requirements files, a Pipfile or a poetry.lock"),
        project_only=_PROJECT_FILES,
    ),
    _coverage(
        "PKG-2",
        (
            "pip-commands",
            S,
            "`pip install`, `python -m pip` or a bare `python` command in a Dockerfile, Makefile, CI or shell script",
        ),
        project_only=_PROJECT_FILES,
    ),
    _coverage(
        "PKG-3",
        (
            "venv-location",
            S,
            "a virtual environment other than uv's `.venv`, or one made by `virtualenv` or `python -m venv`",
        ),
        project_only=_PROJECT_FILES,
    ),
    _coverage(
        "DJ-1",
        ("apps-directory", IMP, "a first-party app of INSTALLED_APPS that is not under `apps/`"),
        project_only="where an app lives is decided by the project's layout, not by the app",
    ),
    _coverage("DJ-2", ("singular-model-names", IMP, "a model whose name is a plural noun (inflection)")),
    _coverage(
        "DJ-3",
        (
            "model-timestamps",
            IMP,
            "a concrete model without `created_at` and `updated_at` date-time fields and no written opt-out",
        ),
        unchecked="whether a model is a business entity is for review; opt one out in a comment that names DJ-3",
    ),
    _coverage(
        "DJ-4",
        ("ruff-raw-sql", S, "SQL built from strings, `.raw()` or `.extra()` (ruff S608, S610, S611)"),
        ("raw-connection", S, "SQL sent through Django's connection: `connection.cursor()` or its `execute()`"),
        unchecked="whether raw SQL was necessary, reviewed and tested is for review",
    ),
    _coverage(
        "DJ-5",
        ("ruff-naive-datetimes", S, "a naive date or time made outside tests (ruff DTZ)"),
        unchecked="whether times are converted in the presentation layer only is for review",
    ),
    _coverage(
        "API-1",
        ("api-version-prefix", IMP, "a mounted Ninja operation or DRF view whose URL does not start with `/api/v<N>/`"),
    ),
    _coverage(
        "API-2",
        ("api-response-schemas", IMP, "a Ninja operation whose 2xx response has no schema in the OpenAPI document"),
        ("hand-parsed-requests", S, "a route that reads `request.body`, `request.POST` or `request.GET` itself"),
    ),
    _coverage(
        "API-3",
        (
            "api-error-shape",
            IMP,
            "a NinjaAPI whose error bodies (its handlers' and its declared ones) have more than one shape",
        ),
    ),
    _coverage(
        "API-4",
        ("api-pagination", IMP, "a Ninja operation whose 2xx response is a bare JSON array, not a page"),
        unchecked=(
            "whether cursor or limit/offset pagination suits the client is for review; "
            "opt a small enumeration out in its docstring or a comment that names API-4"
        ),
    ),
    _coverage(
        "TEST-1",
        (
            "skipped-tests",
            S,
            "a test skipped without a condition (`@pytest.mark.skip`, `unittest.skip`, `pytest.skip()`)",
        ),
        ("skipped-tests-run", R, "with `--tests`: every test the suite skipped, with its reason"),
        unchecked="whether the tests were run for a change is known to CI, not to the code",
    ),
    _coverage(
        "TEST-2",
        ("untested-services", S, "a public function of a services module that no test module names"),
        unchecked="whether the tests cover the logic's cases is for review (and mutation testing)",
        project_only="a kata's tests are its grader, outside the app folder",
    ),
    _coverage(
        "TEST-3",
        ("pytest-style", S, "a `unittest.TestCase` or Django `TestCase` subclass, or no pytest-django in the project"),
        project_only="on a kata, the lesson is how test data meets pytest-django's database, which its grader sees",
    ),
    _coverage(
        "TEST-4",
        ("model-factories", S, "a model without a factory_boy `DjangoModelFactory`"),
        project_only="an app's factories may live in the project's tests, outside the app folder",
    ),
    _coverage(
        "TEST-5",
        ("data-fixtures", S, "`loaddata`, a TestCase's `fixtures`, or a pytest fixture that creates rows"),
        project_only="a kata's tests are its grader, outside the app folder",
    ),
    _coverage(
        "TEST-6",
        ("test-layout", S, "a test module `test_X.py` with no source module `X.py` in the app it tests"),
        project_only="the mirror is between the project's source tree and its tests tree",
    ),
    _coverage("ARCH-1", ("orm-in-routes", S, "a route or view function that queries the ORM itself")),
    _coverage(
        "ARCH-2",
        ("writes-in-routes", S, "a route or view function that opens a transaction or writes rows itself"),
        unchecked="which side effects belong together in one service is for review",
    ),
    _coverage(
        "ARCH-3",
        (
            "side-effects-in-models",
            S,
            "a model module that imports clients or services, or a model method that sends mail",
        ),
        unchecked="how much logic makes a model fat is for review",
    ),
    _coverage(
        "ARCH-4",
        (
            "client-built-in-service",
            S,
            "a service that builds its own client (a call to a `*Client`, `*_http`, `*Session` factory)",
        ),
        unchecked="whether every external API has a client of its own is for review",
    ),
    _coverage(
        "ARCH-5",
        ("http-outside-wrapper", S, "an HTTP library imported by more than one module of an app, outside its wrapper"),
        ("ruff-request-timeout", S, "an outbound request without a timeout (ruff S113)"),
        unchecked="that retries are made only for idempotent requests is for review",
    ),
    _coverage(
        "ARCH-6",
        ("authorization-in-routes", S, "a route or view that filters rows by `request.user` or `request.auth` itself"),
        (
            "unscoped-object-access",
            S,
            "a route or view that fetches a row by an id from its URL with no user or tenant in the function",
        ),
        unchecked="that every service checks the actor it is given is for review",
    ),
    _coverage(
        "PERF-1",
        ("nested-loop-undocumented", S, "a loop over one collection inside a loop over another, with no O() note"),
        unchecked="whether an algorithm is the right trade-off between speed and readability is for review",
    ),
    _coverage(
        "PERF-2",
        ("n-plus-one", R, "with `--tests`: a query repeated per row within one request or service call (django-zeal)"),
        project_only="an N+1 shows when code runs: a kata's tests are its grader, outside the app folder",
    ),
    _coverage(
        "PERF-3",
        unchecked=(
            "which filters are frequent is known from the query log, not from the code: "
            "a check of every filter would flag one-off queries"
        ),
    ),
    _coverage(
        "DATA-1",
        ("multi-write-outside-transaction", S, "a function with two or more ORM writes outside `transaction.atomic()`"),
        unchecked="which writes form one invariant is for review",
    ),
    _coverage(
        "DATA-2",
        (
            "external-call-in-transaction",
            S,
            "a call of an injected client, HTTP or mail library inside `with transaction.atomic()`, "
            "or of a function of the module that makes one",
        ),
        (
            "external-call-in-transaction-run",
            R,
            "with `--tests`: an outbound call made while a transaction of the code is open",
        ),
    ),
    _coverage(
        "DATA-3",
        unchecked="idempotency is behaviour: a test that delivers one webhook twice shows it, no reading of code can",
    ),
    _coverage(
        "DATA-4",
        unchecked="at-least-once handling is behaviour: a test that redelivers and reorders messages shows it",
    ),
    _coverage(
        "DATA-5",
        (
            "publish-in-transaction",
            S,
            "an event published or a task queued inside `transaction.atomic()`, not through `on_commit`",
        ),
        ("publish-in-transaction-run", R, "with `--tests`: an event published while a transaction of the code is open"),
    ),
)


@cache
def coverage() -> dict[str, Coverage]:
    """Every rule's coverage, by rule ID, in the standard's order."""
    by_rule = {entry.rule: entry for entry in COVERAGE}
    return {rule_id: by_rule[rule_id] for rule_id in load_rules()}


def checks_for(rule_id: str) -> tuple[Check, ...]:
    """The audit's checks for one rule (empty when it cannot be checked: `coverage()[rule_id].unchecked` says why)."""
    return coverage()[rule_id].checks


def all_checks() -> tuple[Check, ...]:
    return tuple(check for entry in coverage().values() for check in entry.checks)


def check_named(name: str) -> Check:
    for check in all_checks():
        if check.name == name:
            return check
    raise KeyError(name)


def how_it_is_checked(rule_id: str) -> str:
    """The "How it is checked" lines of a rule's page, in Markdown, from this registry."""
    entry = coverage()[rule_id]
    lines = [f"- `dojo audit` check `{check.name}` ({check.kind}): {check.finds}." for check in entry.checks]
    if entry.unchecked:
        lines.append(f"- Not checked by the audit: {entry.unchecked}.")
    if entry.project_only:
        lines.append(f"- Judged on a whole project, not on one app folder: {entry.project_only}.")
    return "\n".join(lines)
