"""Grader of `test_the_logic`: the learner's tests pass, skip nothing, mirror services.py and catch every mutant.

The learner's test file runs in one pytest process for the whole grader (a module-scoped fixture):
each test once against the real `prorate()` and once per mutant (see `mutation_plugin.py`). The
project's own `uv run pytest` never collects it (its testpaths are tests/ and docs/), and
`uv run pytest katas/...` always runs the graders, so this grader is the only way it runs.
"""

import ast
import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from hypothesis import given
from hypothesis import strategies as st

from dojo import grading, paths
from dojo.grading import check, read_source, shown
from dojo.scenarios import scenarios
from test_the_logic.services import prorate

from .mutants import MUTANTS, reference_prorate

MIRRORED = Path("tests") / "test_services.py"  # services.py -> tests/test_services.py, as TEST-6 asks
# the learner's tests, 14 times over (the original, its disguise, 12 mutants), in a fresh pytest process:
# about a second; the margin is for a loaded machine
RUN_SECONDS = 60
SKIPPERS = {"skip", "skipif", "xfail", "importorskip", "skipIf", "skipUnless", "skipTest", "expectedFailure"}
BERLIN, NEW_YORK, TOKYO = ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York"), ZoneInfo("Asia/Tokyo")


def kata_dir() -> Path:
    return grading.kata_dir("test_the_logic")


@dataclass(frozen=True)
class Outcome:
    test: str
    variant: str
    outcome: str  # passed, failed or skipped (xfail counts as skipped)
    message: str


@dataclass(frozen=True)
class LearnerRun:
    """What the learner's tests did against the real prorate() and against each mutant."""

    outcomes: tuple[Outcome, ...] = ()
    collection_errors: tuple[str, ...] = ()
    collection_skips: tuple[str, ...] = ()  # modules skipped as a whole while pytest collected them
    failure: str = ""  # the pytest process could not run or report at all
    missing: bool = False  # there is no test file at the mirrored path

    def of(self, variant: str) -> dict[str, Outcome]:
        """Each test's outcome against one variant, by the test's name."""
        return {outcome.test: outcome for outcome in self.outcomes if outcome.variant == variant}

    @property
    def on_original(self) -> dict[str, Outcome]:
        return self.of("original")

    @property
    def judging_the_function_object(self) -> list[str]:
        """Tests that pass on the real prorate() and fail on it disguised as the mutants are."""
        disguised = self.of("disguised")
        return sorted(
            name
            for name, outcome in self.on_original.items()
            if outcome.outcome == "passed" and disguised.get(name, outcome).outcome == "failed"
        )


#: what a CI runner sets in the environment of the jobs it runs (GitHub Actions, GitLab CI and the others)
CI_ENVIRONMENT = {
    "CI": "true",
    "CONTINUOUS_INTEGRATION": "true",
    "GITHUB_ACTIONS": "true",
    "GITLAB_CI": "true",
    "BUILDKITE": "true",
    "CIRCLECI": "true",
    "TRAVIS": "true",
    "TF_BUILD": "True",
    "JENKINS_URL": "https://jenkins.example.test/",
    "BUILD_NUMBER": "412",
    "BITBUCKET_BUILD_NUMBER": "412",
    "TEAMCITY_VERSION": "2025.03",
    "CODEBUILD_BUILD_ID": "dunning:412",
}


def run_learner_tests(
    scratch: Path, *, on_ci: bool, variants: tuple[str, ...] = (), frozen_at: datetime | None = None
) -> LearnerRun:
    """The learner's tests in a fresh pytest process, on a developer's machine or on a CI runner.

    `variants` limits the run to those variants of prorate() (all of them when empty); `frozen_at` runs the
    whole process, import and collection included, with the clock stopped at that moment.
    """
    test_file = kata_dir() / MIRRORED
    if not test_file.is_file():
        return LearnerRun(missing=True)
    report = scratch / "report.json"
    (scratch / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    kata_root = kata_dir().parent.resolve()
    env = {
        **{name: value for name, value in os.environ.items() if name not in CI_ENVIRONMENT},
        **(CI_ENVIRONMENT if on_ci else {}),
        "DOJO_MUTATION_REPORT": str(report),
        "PYTHONPATH": os.pathsep.join([str(kata_root), str(paths.REPO)]),
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",  # plain pytest: no Django, no project plugins
        "PYTHONDONTWRITEBYTECODE": "1",  # leave no __pycache__ in the learner's folder
    }
    if variants:
        env["DOJO_MUTATION_VARIANTS"] = ",".join(variants)
    if frozen_at is not None:
        env["DOJO_FROZEN_AT"] = frozen_at.isoformat()
    env.pop("PYTEST_ADDOPTS", None)
    env.pop("DJANGO_SETTINGS_MODULE", None)
    command = [
        *(sys.executable, "-m", "pytest", str(test_file), "-c", str(scratch / "pytest.ini")),
        *("--rootdir", str(kata_root), "-p", "no:cacheprovider", "-p", "graders.test_the_logic.mutation_plugin"),
        *("-q", "--no-header", "--tb=no", "-p", "no:warnings"),
    ]
    try:
        completed = subprocess.run(  # noqa: S603 - our own interpreter running pytest on the kata's tests
            command, cwd=paths.REPO, env=env, capture_output=True, text=True, timeout=RUN_SECONDS - 5, check=False
        )
    except subprocess.TimeoutExpired:
        return LearnerRun(failure=f"Your tests ran for more than {RUN_SECONDS - 5} s: look for a loop or a sleep.")
    if not report.is_file():
        return LearnerRun(failure=(completed.stdout + completed.stderr)[-2000:])
    document = json.loads(report.read_text(encoding="utf-8"))
    outcomes = tuple(Outcome(**entry) for entry in document["tests"])
    return LearnerRun(
        outcomes=outcomes,
        collection_errors=tuple(document["collection_errors"]),
        collection_skips=tuple(document["collection_skips"]),
    )


@pytest.fixture(scope="module")
def learner_run(tmp_path_factory: pytest.TempPathFactory) -> LearnerRun:
    """Every test against the real prorate() and each variant, as on a developer's machine (no CI variables)."""
    return run_learner_tests(tmp_path_factory.mktemp("learner-tests"), on_ci=False)


@pytest.fixture(scope="module")
def learner_run_on_ci(tmp_path_factory: pytest.TempPathFactory) -> LearnerRun:
    """Every test against the real prorate() alone, with the environment a CI runner gives its jobs."""
    return run_learner_tests(tmp_path_factory.mktemp("learner-tests-ci"), on_ci=True, variants=("original",))


#: moments at which the learner's tests run again against the real prorate(), the clock frozen there: moments
#: when "today" is not the same day in UTC and in the zones the kata is about, midnight, and broad day
CLOCKS = {
    datetime(2026, 12, 6, 23, 30, tzinfo=UTC): "23:30 UTC on 6 December, already 7 December in Berlin",
    datetime(2026, 4, 30, 22, 30, tzinfo=UTC): "22:30 UTC on 30 April, already 1 May in Berlin",
    datetime(2026, 3, 28, 23, 30, tzinfo=UTC): (
        "23:30 UTC on 28 March, already 29 March in Berlin, the 23-hour day its clocks move forward"
    ),
    datetime(2026, 12, 31, 23, 30, tzinfo=UTC): "23:30 UTC on New Year's Eve, already 2027 in Berlin",
    datetime(2026, 11, 1, 3, 30, tzinfo=UTC): (
        "03:30 UTC on 1 November, still 31 October in New York, the night its clocks go back"
    ),
    datetime(2026, 3, 1, 0, 0, tzinfo=UTC): "midnight UTC on 1 March, the first moment of a month in UTC",
    datetime(2026, 3, 8, 7, 30, tzinfo=UTC): "07:30 UTC on 8 March, just after New York's clocks moved forward",
    datetime(2026, 6, 15, 12, 0, tzinfo=UTC): "noon UTC on 15 June, broad day in Berlin and New York",
}


@pytest.fixture(scope="module")
def learner_runs_by_the_clock(tmp_path_factory: pytest.TempPathFactory) -> dict[datetime, LearnerRun]:
    """Every test against the real prorate() alone, once per moment of CLOCKS, the clock frozen there."""
    return {
        moment: run_learner_tests(
            tmp_path_factory.mktemp("learner-tests-clock"), on_ci=False, variants=("original",), frozen_at=moment
        )
        for moment in CLOCKS
    }


def require_a_run(run: LearnerRun) -> None:
    """Fail with the reason when the learner's tests could not run at all."""
    __tracebackhide__ = True
    where = shown(kata_dir() / MIRRORED)
    check(not run.missing, f"There is no {where}: the tests of services.py belong there (see the README).")
    check(not run.failure, f"Running the tests in {where} failed:\n{run.failure}")
    check(
        not run.collection_errors,
        f"pytest could not load the tests in {where}:\n" + "\n".join(run.collection_errors),
    )


def held_tests(path: Path) -> str:
    """How `path` holds tests, in words ("" when it holds none): by its name, or by what it defines."""
    if path.name.startswith("test_") or path.name.endswith("_test.py"):
        return " (a test file)"
    try:
        tree = ast.parse(read_source(path))
    except (SyntaxError, UnicodeDecodeError):
        return ""
    names = [
        f"{node.name} (line {node.lineno})"
        for node in tree.body
        if (isinstance(node, ast.FunctionDef) and node.name.startswith("test"))
        or (isinstance(node, ast.ClassDef) and node.name.startswith("Test"))
    ]
    return f" defines {', '.join(names)}" if names else ""


# ---- services.py is context: it must keep computing what it computes ---------------------------------------

APRIL, MARCH = (date(2026, 4, 1), date(2026, 5, 1)), (date(2026, 3, 1), date(2026, 4, 1))
CASES = [
    (3_000, *APRIL, datetime(2026, 4, 21, 9, 30, tzinfo=UTC), BERLIN),
    (3_000, *APRIL, datetime(2026, 4, 1, 0, 0, tzinfo=UTC), BERLIN),
    (3_000, *APRIL, datetime(2026, 4, 30, 12, 0, tzinfo=UTC), BERLIN),
    (3_100, *MARCH, datetime(2026, 3, 17, 12, 0, tzinfo=UTC), BERLIN),
    (4_997, *APRIL, datetime(2026, 4, 16, 8, 0, tzinfo=UTC), BERLIN),
    (2_000, *APRIL, datetime(2026, 4, 21, 8, 0, tzinfo=UTC), BERLIN),
    (1, *APRIL, datetime(2026, 4, 16, 8, 0, tzinfo=UTC), BERLIN),
    (3_000, *APRIL, datetime(2026, 4, 20, 23, 30, tzinfo=UTC), BERLIN),
    (3_000, *APRIL, datetime(2026, 4, 21, 2, 0, tzinfo=UTC), NEW_YORK),
    (3_000, *APRIL, datetime(2026, 3, 31, 22, 0, tzinfo=UTC), BERLIN),
    (2_800, date(2026, 2, 1), date(2026, 3, 1), datetime(2026, 2, 15, 15, 0, tzinfo=TOKYO), TOKYO),
    (9_999, date(2026, 1, 15), date(2026, 2, 15), datetime(2026, 2, 14, 12, 0, tzinfo=UTC), UTC),
]
REFUSED = [
    (3_000, *APRIL, datetime(2026, 3, 31, 12, 0, tzinfo=UTC), BERLIN),  # before the period
    (3_000, *APRIL, datetime(2026, 5, 1, 12, 0, tzinfo=UTC), BERLIN),  # on its end day
    (3_000, *APRIL, datetime(2026, 4, 30, 22, 30, tzinfo=UTC), BERLIN),  # 1 May in Berlin
    (3_000, *APRIL, datetime(2026, 4, 21, 12, 0), BERLIN),  # noqa: DTZ001 - naive, the bad input under test
    (3_000, date(2026, 4, 1), date(2026, 4, 1), datetime(2026, 4, 1, 12, 0, tzinfo=UTC), BERLIN),  # no days
]


@pytest.mark.contract(6)
@pytest.mark.parametrize("case", CASES, ids=lambda case: f"{case[0]}-{case[3].isoformat()}-{case[4]}")
def test_services_py_still_prorates_as_before(case: tuple[int, date, date, datetime, ZoneInfo]) -> None:
    assert prorate(*case) == reference_prorate(*case), (
        "services.py is context in this kata: it is correct as shipped. Restore it "
        "(`git checkout -- katas/test_the_logic/services.py`) and change your tests instead."
    )


@pytest.mark.contract(6)
@pytest.mark.parametrize("case", REFUSED, ids=["before", "end-day", "end-day-local", "naive", "no-days"])
def test_services_py_still_refuses_bad_input(case: tuple[int, date, date, datetime, ZoneInfo]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the kata's services.py states ValueError only
        prorate(*case)


ZONES = [BERLIN, NEW_YORK, TOKYO, ZoneInfo("UTC"), ZoneInfo("Pacific/Auckland"), ZoneInfo("America/Los_Angeles")]
#: moments at which a clock-dependent branch shows: midnight, the nights the clocks change in Berlin and New
#: York, a month's and a year's last night, noon
EDGES_OF_THE_DAY = [
    datetime(2026, 3, 1, 0, 0, tzinfo=UTC),
    datetime(2026, 3, 8, 6, 59, 59, tzinfo=UTC),
    datetime(2026, 3, 8, 7, 0, tzinfo=UTC),
    datetime(2026, 3, 29, 1, 0, tzinfo=UTC),
    datetime(2026, 4, 30, 23, 59, 59, tzinfo=UTC),
    datetime(2026, 10, 25, 0, 30, tzinfo=UTC),
    datetime(2026, 11, 1, 5, 30, tzinfo=UTC),
    datetime(2026, 12, 31, 23, 30, tzinfo=UTC),
    datetime(2026, 6, 15, 12, 0, tzinfo=UTC),
]
#: the moment prorate() is called at: any hour of any day (night and day), or one of the edges above
NOW = st.one_of(
    st.sampled_from(EDGES_OF_THE_DAY),
    st.builds(
        lambda day, minute: datetime.combine(day, time(), tzinfo=UTC) + timedelta(minutes=minute),
        st.dates(min_value=date(2024, 1, 1), max_value=date(2030, 12, 31)),
        st.integers(0, 24 * 60 - 1),
    ),
)


@pytest.mark.guard("TEST-2")
@pytest.mark.contract(6)
@scenarios(40)
@given(
    amount_cents=st.integers(0, 10**9),
    period_start=st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 12, 31)),
    days=st.integers(-1, 92),
    offset_minutes=st.integers(-2 * 24 * 60, 95 * 24 * 60),
    tz=st.sampled_from(ZONES),
    naive=st.booleans(),
    now=NOW,
)
def test_services_py_still_prorates_as_before_on_generated_cases(
    amount_cents: int, period_start: date, days: int, offset_minutes: int, tz: ZoneInfo, naive: bool, now: datetime
) -> None:
    period_end = period_start + timedelta(days=days)
    change_at = datetime.combine(period_start, time(), tzinfo=UTC) + timedelta(minutes=offset_minutes)
    if naive:
        change_at = change_at.replace(tzinfo=None)
    case = (amount_cents, period_start, period_end, change_at, tz)

    def outcome(function: Callable[..., int]) -> object:
        try:
            return function(*case)
        except ValueError:
            return "ValueError"

    with time_machine.travel(now, tick=False):
        theirs = outcome(prorate)
    expected = outcome(reference_prorate)
    check(
        theirs == expected,
        f"prorate({amount_cents}, {period_start}, {period_end}, {change_at.isoformat()}, {tz.key}), called "
        f"with the clock at {now:%Y-%m-%d %H:%M} UTC, gives {theirs!r} where the rules give {expected!r}. "
        "prorate() depends on its arguments alone, never on the moment it runs. services.py is context in "
        "this kata: it is correct as shipped. Restore it (`git checkout -- katas/test_the_logic/services.py`) "
        "and change your tests instead.",
    )


# ---- the lesson ----------------------------------------------------------------------------------------------


@pytest.mark.contract(1)
@pytest.mark.guard("TEST-6")
def test_the_tests_mirror_the_source_file() -> None:
    here = kata_dir()
    expected = here / MIRRORED
    check(
        expected.is_file(),
        f"There is no {shown(expected)}. The standard puts the tests of a module in a test file that "
        "mirrors it (apps/billing/services.py -> tests/billing/test_services.py); in this kata, "
        f"{shown(here / 'services.py')} -> {shown(expected)}. Anyone looking for the tests of a "
        "module then finds them without searching.",
    )
    elsewhere = [
        f"  {shown(path)}{where}"
        for path in sorted(here.rglob("*.py"))
        if path.resolve() != expected.resolve() and "__pycache__" not in path.parts and (where := held_tests(path))
    ]
    check(
        not elsewhere,
        f"Tests of services.py live outside {shown(expected)}:\n" + "\n".join(elsewhere) + "\n"
        "The grader runs only the mirrored file, and a teammate looking for the tests of services.py "
        "looks there too: move these tests into it.",
    )


@pytest.mark.contract(2)
@pytest.mark.lesson("TEST-1")
@pytest.mark.timeout(2 * RUN_SECONDS)  # includes two runs of the learner's tests: on a laptop, on a CI runner
def test_no_test_is_skipped(learner_run: LearnerRun, learner_run_on_ci: LearnerRun) -> None:
    path = kata_dir() / MIRRORED
    found: list[str] = []
    if path.is_file():
        source = read_source(path)
        lines = source.splitlines()
        try:
            tree = ast.parse(source)
        except SyntaxError as error:
            raise AssertionError(f"Python cannot read {shown(path)}, line {error.lineno}: {error.msg}") from None
        imported = {
            alias.asname or alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module in ("pytest", "unittest", "_pytest.mark")
            for alias in node.names
            if alias.name in SKIPPERS | {"mark"}
        }
        for node in ast.walk(tree):
            named = (isinstance(node, ast.Attribute) and node.attr in SKIPPERS) or (
                isinstance(node, ast.Name) and node.id in imported and node.id != "mark"
            )
            if named and isinstance(node, ast.expr):
                found.append(f"  line {node.lineno}: {lines[node.lineno - 1].strip()}")
    found = sorted(set(found), key=lambda line: int(line.split(":")[0].split()[-1]))
    on_ci = " on a CI runner (CI=true, GITHUB_ACTIONS=true, ...)"
    for run, where in ((learner_run, ""), (learner_run_on_ci, on_ci)):
        skipped = [o for o in run.on_original.values() if o.outcome == "skipped"]
        found += [f"  {o.test} was skipped when it ran{where}: {o.message}" for o in skipped]
        found += [f"  the whole module was skipped when it ran{where}: {reason}" for reason in run.collection_skips]
    if not learner_run_on_ci.failure and not learner_run_on_ci.collection_errors:
        found += [
            f"  {name} did not run at all{on_ci}"
            for name, o in sorted(learner_run.on_original.items())
            if o.outcome == "passed" and name not in learner_run_on_ci.on_original
        ]
    ci_note = (
        " A test that runs only on some machines is a skipped test on the others: the tests run the same on a "
        "laptop and on CI, whatever the environment says."
        if any(on_ci in line for line in found)
        else ""
    )
    check(
        not found,
        f"Tests in {shown(path)} are skipped:\n" + "\n".join(found) + "\n"
        "A skipped test checks nothing, and CI stays green while the bug it was written for ships: "
        "that is how the time-zone bug of this kata got out. Remove the skip (skip, skipif, xfail all "
        "count)." + ci_note + " If the test then fails, find out which one is wrong, the test or the code, "
        "and fix that.",
    )


@pytest.mark.contract(3)
@pytest.mark.guard("TEST-2")
@pytest.mark.timeout(RUN_SECONDS)  # includes the one run of the learner's tests
def test_the_tests_pass_against_the_correct_code(learner_run: LearnerRun) -> None:
    require_a_run(learner_run)
    where = shown(kata_dir() / MIRRORED)
    ran = [o for o in learner_run.on_original.values() if o.outcome != "skipped"]
    check(
        bool(ran),
        f"No test in {where} ran: write tests as functions named test_..., each asserting what prorate() returns.",
    )
    failing = [o for o in ran if o.outcome == "failed"]
    check(
        not failing,
        f"{len(failing)} of your {len(ran)} tests fail against services.py, which is correct as shipped:\n"
        + "\n".join(f"  {o.test}: {o.message}" for o in failing)
        + "\nA test that fails against correct code is wrong: check its expected value against the rules "
        "in prorate()'s docstring (which days count, how it rounds, which calendar), and fix the test.",
    )


@pytest.mark.contract(4)
@pytest.mark.guard("TEST-2")
@pytest.mark.timeout(RUN_SECONDS)  # includes the one run of the learner's tests
def test_the_tests_judge_what_prorate_returns(learner_run: LearnerRun) -> None:
    """The tests judge what prorate() returns, not the function object."""
    require_a_run(learner_run)
    suspects = learner_run.judging_the_function_object
    check(
        not suspects,
        f"These tests fail when prorate() is replaced by a wrapper that returns exactly what it returns: "
        f"{', '.join(suspects)}. They look at the function itself (its type, code, file or attributes), "
        "so they would also fail after a harmless refactoring, and they catch no bug in what it computes. "
        "Test what prorate() returns for chosen inputs instead.",
    )


@pytest.mark.contract(5)
@pytest.mark.lesson("TEST-2")
@pytest.mark.timeout(RUN_SECONDS)  # includes the one run of the learner's tests
@pytest.mark.parametrize("mutant", list(MUTANTS))
def test_the_tests_catch_the_bug(mutant: str, learner_run: LearnerRun) -> None:
    require_a_run(learner_run)
    bug = MUTANTS[mutant]
    fingerprints = set(learner_run.judging_the_function_object)
    passing = {name for name, o in learner_run.on_original.items() if o.outcome == "passed"} - fingerprints
    caught_by = sorted(name for name, o in learner_run.of(mutant).items() if name in passing and o.outcome == "failed")
    skipped = sum(1 for o in learner_run.on_original.values() if o.outcome == "skipped")
    skipped_note = f" ({skipped} skipped, which catch nothing)" if skipped else ""
    still = (
        "your only passing test still passes" if len(passing) == 1 else f"all {len(passing)} of your tests still pass"
    )
    check(
        bool(caught_by),
        f"A bug your tests miss: with prorate() replaced by a version that {bug.bug}, {still}"
        f"{skipped_note}. This bug would ship.\nTo catch it: {bug.catch}",
    )


# last: it runs the learner's tests once per moment of CLOCKS, so a grading that stops at the first
# failed check (a mutant's, a decoy's) does not pay for those runs when an earlier check already failed
@pytest.mark.contract(3)
@pytest.mark.guard("TEST-2")
@pytest.mark.timeout((len(CLOCKS) + 1) * RUN_SECONDS)  # includes a run of the learner's tests per moment
def test_the_tests_pass_whenever_they_run(
    learner_run: LearnerRun, learner_runs_by_the_clock: dict[datetime, LearnerRun]
) -> None:
    require_a_run(learner_run)
    failing_now = {name for name, o in learner_run.on_original.items() if o.outcome == "failed"}
    failures: list[str] = []
    for moment, run in learner_runs_by_the_clock.items():
        require_a_run(run)
        failures += [
            f"  at {moment:%Y-%m-%d %H:%M} UTC ({CLOCKS[moment]}): {o.test}: {o.message}"
            for o in run.on_original.values()
            if o.outcome == "failed" and o.test not in failing_now
        ]
    check(
        not failures,
        f"Tests in {shown(kata_dir() / MIRRORED)} pass against services.py now, but fail against it, correct "
        "as it is, when the clock shows another moment:\n"
        + "\n".join(failures)
        + "\nThe grader ran your tests again with the clock frozen (time-machine) at moments of the night and "
        "of the day, among them moments when the day in UTC and in Berlin or New York differ. A test that "
        "reads the clock (datetime.now(), date.today()) "
        "and works out its expected value in another calendar than prorate()'s fails on some nights: the "
        "flaky test of this kata's scene. Give each test fixed moments, `datetime(2026, 4, 20, 23, 30, "
        "tzinfo=UTC)`, so that it checks the same thing whenever it runs.",
    )
