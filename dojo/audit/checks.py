"""The audit's import-time checks as Django system checks, for a team that runs them without the dojo's CLI.

With the dojo installed in the project's environment, add `"dojo.audit.checks.StandardChecks"` to
INSTALLED_APPS (in development settings), then run `manage.py check --tag dojo`. Each finding is a
warning whose id is `dojo.<RULE-ID>` and whose hint is the rule's page. The checks are the same code
as `dojo audit`'s: the probe's facts, judged by `importtime.check`.
"""

import os
from collections.abc import Sequence
from pathlib import Path

from django.apps import AppConfig
from django.conf import settings
from django.core import checks

from dojo.audit import importtime, probe
from dojo.audit.links import resolve_site, rule_link
from dojo.audit.project import Project
from dojo.rules import load_rules


class StandardChecks(AppConfig):
    name = "dojo.audit.checks"
    label = "dojo_audit"
    verbose_name = "The backend standard's checks"


def _root() -> Path:
    base = getattr(settings, "BASE_DIR", None)
    return Path(base).resolve() if base else Path.cwd().resolve()


@checks.register("dojo")
def standard(app_configs: Sequence[AppConfig] | None = None, **kwargs: object) -> list[checks.CheckMessage]:
    root = _root()
    data = probe.collect(str(root))
    facts = importtime.Facts(apps=data["apps"], apis=data["apis"], drf_routes=data["drf_routes"])
    project = Project(
        root=root,
        settings=os.environ.get("DJANGO_SETTINGS_MODULE"),
        python=None,
        app_folder=False,
        import_paths=(root,),
    )
    findings, _opted_out, problems = importtime.check(project, facts)
    rules = load_rules()
    site = resolve_site(None, root)
    messages: list[checks.CheckMessage] = [
        checks.Warning(
            f"{finding.path}:{finding.line}: {finding.message}",
            hint=f"{rules[finding.rule].title}: {rule_link(finding.rule, site)}",
            id=f"dojo.{finding.rule}",
        )
        for finding in findings
    ]
    messages += [checks.Info(problem.message, id="dojo.audit") for problem in problems]
    return messages
