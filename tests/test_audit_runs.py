"""No false all-clear: a rule whose evidence did not come in is "not judged", with the reason, and a run
whose project tests did not pass exits 3. Also: what the project's tests wrote, and its database's network."""

import json
import os
from pathlib import Path

import pytest

from dojo.audit import render
from dojo.audit.cli import main
from dojo.audit.run import Options, Report, audit

from .audit_projects import PYTHON, clean_project, project_with_tests, write

SITE = ""


def statuses(report: Report) -> dict[str, render.RuleStatus]:
    return {status.rule: status for status in render.statuses(report, SITE)}


def run_tests(root: Path, *select: str) -> Report:
    return audit(Options(path=root, python=PYTHON, tests=True, select=select, env=dict(os.environ)))


def test_tests_that_error_at_set_up_leave_the_run_time_rules_not_judged(tmp_path: Path) -> None:
    root = project_with_tests(tmp_path)
    write(root, {"tests/conftest.py": BROKEN_DATABASE})
    report = run_tests(root, "PERF-2", "DATA-2", "TEST-1")
    perf = statuses(report)["PERF-2"]
    assert perf.not_judged.startswith("its checks did not run: n-plus-one: the project's tests did not all run:")
    assert "4 of 4 tests errored at set-up (first: tests/orders/test_services.py::" in perf.not_judged
    assert "the test database is down" in perf.not_judged  # the first error, in the project's words
    assert report.tests_passed is False
    text = render.text(report, SITE)
    assert "PERF-2  Avoid N+1 queries: its checks did not run" in text
    assert "DID NOT PASS (exit status 3)" in text


def test_a_run_whose_tests_did_not_pass_exits_3_even_with_findings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = project_with_tests(tmp_path)
    write(root, {"tests/orders/test_failing.py": "def test_fails() -> None:\n    assert 1 == 2\n"})
    assert main([str(root), "--python", PYTHON, "--tests", "--select", "PERF-2", "--format", "json"]) == 3
    data = json.loads(capsys.readouterr().out)
    assert data["tests"]["passed"] is False
    assert [finding["rule"] for finding in data["findings"]] == ["PERF-2"]  # its evidence is still reported


def test_passing_tests_keep_exit_1_for_findings(tmp_path: Path) -> None:
    root = project_with_tests(tmp_path)
    assert main([str(root), "--python", PYTHON, "--tests", "--select", "PERF-2", "--format", "json"]) == 1


def test_ninja_only_rules_are_not_judged_on_a_project_without_a_ninja_api_and_do_not_fail_ci(tmp_path: Path) -> None:
    root = clean_project(tmp_path, shop__urls_py="urlpatterns: list[object] = []\n", apps__orders__api_py="")
    report = audit(Options(path=root, python=PYTHON, select=("API",)))
    found = statuses(report)
    for rule in ("API-3", "API-4"):
        assert found[rule].not_judged.endswith("no NinjaAPI is mounted (no API found); this check reads Django Ninja's")
    assert found["API-1"].not_judged == ""  # DRF routes are judged too
    assert main([str(root), "--python", PYTHON, "--select", "API"]) == 0


def test_settings_that_do_not_load_name_the_reason_for_each_rule_not_judged(tmp_path: Path) -> None:
    root = clean_project(tmp_path, shop__settings_py='import os\n\nSECRET_KEY = os.environ["NOT_SET_ANYWHERE"]\n')
    report = audit(Options(path=root, python=PYTHON, select=("DJ-2",)))
    assert "the settings did not load: KeyError: 'NOT_SET_ANYWHERE'" in statuses(report)["DJ-2"].not_judged


def test_files_the_tests_write_into_the_tree_are_reported(tmp_path: Path) -> None:
    root = project_with_tests(tmp_path)
    write(root, {"tests/orders/test_uploads.py": WRITES_MEDIA})
    report = run_tests(root, "TEST-1")
    assert report.written == ["3 files created under media: media/0.png, media/1.png, media/2.png"]
    assert "written by the tests: 3 files created under media" in render.text(report, SITE)


def test_the_summary_comes_first_ranked_by_severity(tmp_path: Path) -> None:
    root = project_with_tests(tmp_path)
    report = run_tests(root, "PERF-2", "DATA-2", "TEST-1", "PY-3")
    text = render.text(report, SITE)
    assert text.index("Summary: ") < text.index("== High ==") < text.index("== Medium ==") < text.index("== Low ==")
    assert "  high        2  PERF-2 1 · DATA-2 1" in text
    # the static and the run-time finding of one call are one item
    assert text.count("apps/orders/services.py:18  httpx") == 1
    assert "[static and run-time: external-call-in-transaction-run, external-call-in-transaction]" in text
    assert "(docs/rules/perf-2.md; kata: katas/n_plus_one/README.md" in text


@pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgres"), reason="the project's database is PostgreSQL here"
)
def test_the_network_sandbox_does_not_cut_the_projects_own_database(tmp_path: Path) -> None:
    root = project_with_tests(tmp_path)
    name = f"dojo_audit_{os.getpid()}"
    url = os.environ["DATABASE_URL"].rsplit("/", 1)[0] + f"/{name}"
    write(root, {"shop/settings.py": POSTGRES_SETTINGS})
    report = audit(
        Options(path=root, python=PYTHON, tests=True, select=("PERF-2",), env={**os.environ, "DATABASE_URL": url})
    )
    assert report.tests_passed, report.tests_summary
    assert [finding.rule for finding in report.findings] == ["PERF-2"]
    assert report.test_notes[0].startswith("the tests ran with the network")
    assert "(default: postgresql at " in report.test_notes[0]


BROKEN_DATABASE = """
    import pytest


    @pytest.fixture(autouse=True)
    def database_check() -> None:
        raise RuntimeError("the test database is down")
"""

WRITES_MEDIA = """
    from pathlib import Path


    def test_uploads() -> None:
        Path("media").mkdir(exist_ok=True)
        for number in range(3):
            Path(f"media/{number}.png").write_bytes(b"png")
"""

POSTGRES_SETTINGS = """
    import os

    import dj_database_url

    SECRET_KEY = "test"  # noqa: S105 - a test project
    INSTALLED_APPS = ["django.contrib.contenttypes", "apps.orders"]
    DATABASES = {"default": dj_database_url.parse(os.environ["DATABASE_URL"])}
    ROOT_URLCONF = "shop.urls"
    USE_TZ = True
    DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
"""


SERVICE_PACKAGE = {
    "apps/orders/services.py": None,
    "apps/orders/services/__init__.py": "",
    "apps/orders/services/reports.py": """
        from apps.orders.models import Order


        class Reports:
            def customer_names(self) -> list[str]:
                return [order.customer.name for order in Order.objects.all()]

            @staticmethod
            def count() -> int:
                return Order.objects.count()
    """,
    "tests/orders/test_services.py": """
        import pytest

        from apps.orders.services.reports import Reports

        from .factories import OrderFactory

        pytestmark = pytest.mark.django_db


        def test_customer_names() -> None:
            OrderFactory.create_batch(3)
            assert len(Reports().customer_names()) == Reports.count() == 3
    """,
}


def test_an_n_plus_one_in_a_service_class_of_a_services_package_is_found(tmp_path: Path) -> None:
    root = project_with_tests(tmp_path)
    (root / "apps/orders/services.py").unlink()
    write(root, {name: text for name, text in SERVICE_PACKAGE.items() if text is not None})
    report = run_tests(root, "PERF-2")
    assert report.tests_passed, report.tests_summary
    assert [(finding.rule, finding.path, finding.line) for finding in report.findings] == [
        ("PERF-2", "apps/orders/services/reports.py", 6)
    ]
