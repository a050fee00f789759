"""The report for a lead: summary first, repeated decisions once, PY-2 as coverage, one line per noqa
comment, real files as locations, and a Markdown summary that fits a pull-request comment."""

import json
from pathlib import Path

from dojo.audit import render
from dojo.audit.render import COMMENT_LIMIT
from dojo.audit.run import Options, Report, audit

from .audit_projects import PYTHON, clean_project, write

SITE = ""


def static_audit(root: Path, *select: str) -> Report:
    return audit(Options(path=root, python=PYTHON, static_only=True, select=select))


UNHINTED = """
    def total(prices, rate):
        return sum(prices) * rate


    def label(name: str) -> str:
        return name.title()
"""


def test_type_hints_are_coverage_per_package_not_a_line_per_parameter(tmp_path: Path) -> None:
    root = clean_project(tmp_path, apps__orders__pricing_py=UNHINTED)
    text = render.text(static_audit(root, "PY-2"), SITE)
    assert "PY-2  Type hints everywhere: 3 findings" in text
    # apps/orders: 5 of 8 parameters and return values annotated (services.py and api.py, and label())
    assert "  apps/orders                                   62 %        3" in text
    assert "apps/orders/pricing.py:1" not in text  # every place is in the JSON and SARIF reports
    assert "type hints (PY-2): " in text.split("== ")[0]  # in the summary


def test_a_decision_repeated_in_many_files_is_one_item_with_a_count(tmp_path: Path) -> None:
    unformatted = {f"apps/orders/module_{number}.py": "x  =  1\n" for number in range(12)}
    root = write(clean_project(tmp_path), unformatted)
    text = render.text(static_audit(root, "PY-3"), SITE)
    assert "PY-3  Formatted and linted with ruff: 12 findings" in text
    assert (
        "  apps/orders/module_0.py:1  a file that `ruff format` would change (12 places); also "
        "apps/orders/module_1.py:1, apps/orders/module_10.py:1, apps/orders/module_11.py:1 and 8 more"
    ) in text


def test_a_bare_noqa_comment_is_listed_once_with_everything_it_hides(tmp_path: Path) -> None:
    root = clean_project(tmp_path, apps__orders__pricing_py="def total(prices, rate):  # noqa\n    return 1\n")
    report = static_audit(root, "PY-2")
    assert len(report.noqa) == 2  # ANN001 (prices and rate) and ANN201 (the return value)
    text = render.text(report, SITE)
    assert "noqa comments that would hide findings of the standard from ruff (1):" in text
    assert "  apps/orders/pricing.py:1  `# noqa` hides PY-2 ANN001, PY-2 ANN201" in text


def test_a_finding_about_the_whole_project_points_at_a_real_file(tmp_path: Path) -> None:
    root = clean_project(tmp_path)
    (root / "pyproject.toml").unlink()
    report = static_audit(root, "PY-1", "PKG-1")
    assert {(finding.rule, finding.path, finding.line) for finding in report.findings} == {
        ("PY-1", "manage.py", 1),
        ("PKG-1", "manage.py", 1),
    }
    sarif = json.loads(render.as_sarif(report, SITE))
    for result in sarif["runs"][0]["results"]:
        uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        assert (root / uri).is_file()


def test_the_markdown_summary_fits_a_pull_request_comment(tmp_path: Path) -> None:
    many = {
        f"apps/orders/module_{number}.py": "from datetime import datetime\n\nfrom .models import Order\n\n"
        + "".join(f"ROWS_{line} = Order.objects.filter(created_at__lte=datetime.now())\n" for line in range(40))
        for number in range(60)
    }
    root = write(clean_project(tmp_path), many)
    report = static_audit(root, "DJ-5")
    full = render.markdown(report, SITE)
    short = render.markdown(report, SITE, summary=True)
    assert len(full) > COMMENT_LIMIT  # the project is big enough to need the summary
    assert len(short) <= COMMENT_LIMIT
    assert short.startswith("## dojo audit: 2400 defects (0 high, 2400 medium, 0 low)")
    assert "- and 2390 more (the full report lists them)" in short


def test_a_platform_runtime_pin_says_which_python_and_tool_settings_are_no_uv_project(tmp_path: Path) -> None:
    root = clean_project(tmp_path)
    write(root, {"pyproject.toml": "[tool.ruff]\nline-length = 100\n", "requirements.txt": "django\n"})
    (root / "uv.lock").unlink()
    (root / "runtime.txt").write_text("python-3.12.4\n")
    report = static_audit(root, "PY-1", "PKG-1")
    assert [(finding.rule, finding.path) for finding in report.findings] == [("PKG-1", "requirements.txt")]
    (root / "runtime.txt").write_text("python-3.10.2\n")
    assert [finding.message for finding in static_audit(root, "PY-1").findings] == [
        "`runtime.txt` pins Python 3.10.2, older than 3.12."
    ]


def test_a_dockerfile_in_a_folder_is_read_for_pip_commands(tmp_path: Path) -> None:
    root = write(clean_project(tmp_path), {"docker/local.Dockerfile": "FROM python:3.12\nRUN pip install httpie\n"})
    assert [(finding.path, finding.line) for finding in static_audit(root, "PKG-2").findings] == [
        ("docker/local.Dockerfile", 2)
    ]


def test_one_lint_code_repeated_down_one_file_is_one_item(tmp_path: Path) -> None:
    settings = "import os\n\nDEBUG = True\n" + "".join(f"import module_{number}\n" for number in range(5))
    root = write(clean_project(tmp_path), {"shop/settings_local.py": settings})
    text = render.text(static_audit(root, "PY-3"), SITE)
    assert "  shop/settings_local.py:4  E402: Module level import not at top of file (5 lines); also " in text
    assert text.count("E402") == 1
