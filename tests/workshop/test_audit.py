"""The board is built the way the katas teach: `dojo audit` finds nothing in it."""

import os

from dojo import paths
from dojo.audit.run import Options, audit


def test_the_workshop_app_passes_the_audit() -> None:
    env = {key: value for key, value in os.environ.items() if key not in {"DJANGO_SETTINGS_MODULE", "DATABASE_URL"}}

    report = audit(Options(path=paths.HOME.root / "dojo" / "workshop", settings="dojo.workshop.settings", env=env))

    assert report.import_checks_ran, report.problems
    assert report.findings == []
    assert [item.reason for item in report.suppressed] == ["a CSV file for a spreadsheet, not JSON"]
