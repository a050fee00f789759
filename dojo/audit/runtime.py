"""`--tests`: run the project's own pytest suite, in its own interpreter, with our plugin brought in from outside.

The plugin (`plugin.py`) and django-zeal reach the project's interpreter through PYTHONPATH: a temporary
folder outside the audited tree holds a copy of the plugin and a link to zeal. Nothing is installed
into the project's environment; pytest's cache is off (`-p no:cacheprovider`) and bytecode goes to the
user's cache. Where `unshare` can drop the network, the tests run without it.
"""

import importlib.util
import json
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from dojo.audit.findings import Finding, Problem
from dojo.audit.importtime import pycache
from dojo.audit.project import Project

PLUGIN = Path(__file__).with_name("plugin.py")


def zeal_folder() -> Path | None:
    """django-zeal's package folder, found without importing it (it imports Django, which the audit's own
    environment need not have: the project's interpreter brings its own)."""
    spec = importlib.util.find_spec("zeal")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    return Path(locations[0]) if locations else None


TIMEOUT_SECONDS = 30 * 60
RULES = {
    "n-plus-one": ("PERF-2", "n-plus-one"),
    "external-call": ("DATA-2", "external-call-in-transaction-run"),
    "publish": ("DATA-5", "publish-in-transaction-run"),
    "skipped": ("TEST-1", "skipped-tests-run"),
}


@dataclass
class RuntimeResult:
    ran: bool
    findings: list[Finding] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    summary: str = ""


def _offline(command: list[str]) -> list[str]:
    """The command without network access, where this machine lets us drop it."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return command
    probe = subprocess.run([unshare, "-n", "true"], capture_output=True, check=False)  # noqa: S603 - fixed arguments
    return [unshare, "-n", *command] if probe.returncode == 0 else command


def run(project: Project, env: Mapping[str, str], pytest_args: Sequence[str] = ()) -> RuntimeResult:
    if project.python is None:
        return RuntimeResult(False, problems=[Problem("--tests", "no Python interpreter found for the project")])
    with tempfile.TemporaryDirectory(prefix="dojo-audit-tests-") as folder:
        overlay = Path(folder)
        shutil.copyfile(PLUGIN, overlay / "dojo_audit_plugin.py")
        zeal = zeal_folder()
        if zeal is None:
            return RuntimeResult(False, problems=[Problem("--tests", "django-zeal is not installed with the audit")])
        (overlay / "zeal").symlink_to(zeal, target_is_directory=True)
        events = overlay / "events.jsonl"
        child_env = {
            **env,
            "PYTHONPATH": ":".join([str(overlay), *(str(path) for path in project.import_paths)]),
            "PYTHONPYCACHEPREFIX": str(pycache(env)),
            "DOJO_AUDIT_ROOT": str(project.root),
            "DOJO_AUDIT_EVENTS": str(events),
        }
        child_env.pop("PYTHONDONTWRITEBYTECODE", None)
        child_env.pop("VIRTUAL_ENV", None)
        # the project's pytest configuration names its test settings; --settings, when given, wins
        child_env.pop("DJANGO_SETTINGS_MODULE", None)
        if project.settings_given and project.settings:
            child_env["DJANGO_SETTINGS_MODULE"] = project.settings
        command = [project.python, "-m", "pytest", "-p", "dojo_audit_plugin", "-p", "no:cacheprovider"]
        command += ["-q", "--no-header", "-o", "console_output_style=classic", *pytest_args]
        try:
            completed = subprocess.run(  # noqa: S603 - the project's interpreter and its own tests
                _offline(command),
                cwd=project.root,
                env=child_env,
                capture_output=True,
                text=True,
                timeout=TIMEOUT_SECONDS,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return RuntimeResult(False, problems=[Problem("--tests", f"the tests ran over {TIMEOUT_SECONDS} s")])
        lines = events.read_text().splitlines() if events.is_file() else []
    tail = [line for line in completed.stdout.strip().splitlines() if line.strip()][-1:]
    summary = tail[0] if tail else ""
    if completed.returncode not in (0, 1, 5):  # 1: some tests failed; 5: none collected
        why = " ".join((completed.stderr or completed.stdout).strip().splitlines()[-3:])
        return RuntimeResult(False, problems=[Problem("--tests", f"pytest stopped ({completed.returncode}): {why}")])
    events_read = [json.loads(line) for line in lines]
    if not any(event["kind"] == "started" for event in events_read):
        why = " ".join((completed.stderr or completed.stdout).strip().splitlines()[-2:]) or "no output"
        return RuntimeResult(False, problems=[Problem("--tests", f"the project's pytest did not start: {why}")])
    result = RuntimeResult(True, summary=summary)
    for event in events_read:
        if event["kind"] == "started":
            continue
        if event["kind"] == "problem":
            result.problems.append(Problem("--tests", event["what"]))
            continue
        rule, check = RULES[event["kind"]]
        path = event.get("file") or str(project.root)
        result.findings.append(
            Finding(project.relative(path), int(event.get("line") or 1), rule, check, _message(event))
        )
    return result


def _message(event: Mapping[str, str]) -> str:
    kind = event["kind"]
    if kind == "n-plus-one":
        return f"{event['what']} within one request or service call: select_related() or prefetch_related()."
    if kind == "skipped":
        return f"`{event['what']}` was skipped: {event.get('reason') or 'no reason given'}."
    if kind == "publish":
        return f"{event['what']} was queued while a transaction of the code was open: use transaction.on_commit()."
    return f"{event['what']} was called while a transaction of the code was open: call it before or after."
