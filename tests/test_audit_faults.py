"""The audit's own faults: special files, undecodable files, and an app that hangs or ends the process at
import. Each is named in the report, with the file (and the line, where there is one); none stops the audit."""

import os
from pathlib import Path

from dojo.audit.run import Options, Report, audit

from .audit_projects import PYTHON, clean_project


def problems(report: Report) -> dict[str, str]:
    return {problem.where: problem.message for problem in report.problems}


def test_a_py_file_linked_to_dev_zero_and_a_named_pipe_are_named_and_never_opened(tmp_path: Path) -> None:
    root = clean_project(tmp_path)
    (root / "apps/orders/zero.py").symlink_to("/dev/zero")
    os.mkfifo(root / "apps/orders/x.py")
    report = audit(Options(path=root, python=PYTHON, static_only=True))
    found = problems(report)
    assert found["apps/orders/zero.py"] == "not read: a character device, not a regular file"
    assert found["apps/orders/x.py"] == "not read: a named pipe, not a regular file"
    assert {finding.path for finding in report.findings}.isdisjoint({"apps/orders/zero.py", "apps/orders/x.py"})


def test_an_undecodable_file_is_named_and_not_judged(tmp_path: Path) -> None:
    root = clean_project(tmp_path)
    (root / "apps/orders/legacy.py").write_bytes(
        b"from datetime import datetime\nNAME = 'caf\xe9'\nX = datetime.now()\n"
    )
    report = audit(Options(path=root, python=PYTHON, static_only=True, select=("DJ-5",)))
    assert problems(report)["apps/orders/legacy.py"] == "not audited: not utf-8 text (byte 0xe9 at offset 41)"
    assert report.findings == []  # its naive datetime is not judged on garbled text


def test_an_app_that_exits_at_import_is_named_with_its_line(tmp_path: Path) -> None:
    root = clean_project(tmp_path, apps__orders__models_py="import sys\n\nsys.exit('no database configured')\n")
    report = audit(Options(path=root, python=PYTHON, select=("DJ-2",)))
    assert not report.import_checks_ran
    assert "SystemExit: no database configured (at apps/orders/models.py:3)" in report.not_run["singular-model-names"]


def test_an_app_that_ends_the_process_at_import_names_the_module(tmp_path: Path) -> None:
    root = clean_project(tmp_path, apps__orders__models_py="import os\n\nos._exit(4)\n")
    report = audit(Options(path=root, python=PYTHON, select=("DJ-2",)))
    (message,) = [problem.message for problem in report.problems if problem.where == "settings"]
    assert "the project's Python ended itself (4) after the import of apps.orders.models started" in message


def test_an_app_that_hangs_at_import_is_named_with_its_line(tmp_path: Path) -> None:
    root = clean_project(tmp_path, apps__orders__models_py="import time\n\nwhile True:\n    time.sleep(0.1)\n")
    env = {**os.environ, "DOJO_AUDIT_IMPORT_TIMEOUT": "2"}
    report = audit(Options(path=root, python=PYTHON, select=("DJ-2",), env=env))
    (message,) = [problem.message for problem in report.problems if problem.where == "settings"]
    assert "loading the settings took over 2 s: the import stopped at apps/orders/models.py:4 (in <module>)" in message
