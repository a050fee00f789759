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

from dojo.audit import treewatch
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
    """What `--tests` found. `ran` is False when the plugin's evidence did not come back at all;
    `not_judged` says why the run-time checks cannot be trusted to have seen the code (tests that errored
    at set-up or did not collect); `passed` is whether the project's own tests passed."""

    ran: bool
    findings: list[Finding] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    summary: str = ""
    passed: bool = False
    not_judged: str = ""
    notes: list[str] = field(default_factory=list)  # how the tests ran (with the network, and why)
    written: list[str] = field(default_factory=list)  # what the tests left in the project's tree


def _unshare() -> str | None:
    """`unshare` when this machine lets us drop the network, else None."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return None
    probe = subprocess.run([unshare, "-n", "true"], capture_output=True, check=False)  # noqa: S603 - fixed arguments
    return unshare if probe.returncode == 0 else None


def run(project: Project, env: Mapping[str, str], pytest_args: Sequence[str] = ()) -> RuntimeResult:
    if project.python is None:
        return RuntimeResult(False, problems=[Problem("--tests", "no Python interpreter found for the project")])
    before = treewatch.snapshot(project.root)
    unshare = _unshare()
    notes = [] if unshare else ["the tests ran with the network: this machine cannot drop it (`unshare -n`)"]
    result = _run_once(project, env, pytest_args, unshare)
    if result.notes:  # the test database is reached over TCP, which a new network namespace cuts
        notes = [f"the tests ran with the network, as their database is reached over TCP ({result.notes[0]})"]
        result = _run_once(project, env, pytest_args, None)
    result.notes = notes
    result.written = treewatch.changes(before, treewatch.snapshot(project.root))
    return result


def _run_once(
    project: Project, env: Mapping[str, str], pytest_args: Sequence[str], unshare: str | None
) -> RuntimeResult:
    python = str(project.python)
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
            "DOJO_AUDIT_NETWORK_CUT": "1" if unshare else "0",
        }
        child_env.pop("PYTHONDONTWRITEBYTECODE", None)
        child_env.pop("VIRTUAL_ENV", None)
        # the project's pytest configuration names its test settings; --settings, when given, wins
        child_env.pop("DJANGO_SETTINGS_MODULE", None)
        if project.settings_given and project.settings:
            child_env["DJANGO_SETTINGS_MODULE"] = project.settings
        command = [python, "-m", "pytest", "-p", "dojo_audit_plugin", "-p", "no:cacheprovider"]
        command += ["-q", "--no-header", "-o", "console_output_style=classic", *pytest_args]
        try:
            completed = subprocess.run(  # noqa: S603 - the project's interpreter and its own tests
                [unshare, "-n", *command] if unshare else command,
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
    events_read = [json.loads(line) for line in lines]
    needed = [event["what"] for event in events_read if event["kind"] == "network-needed"]
    if needed:
        return RuntimeResult(False, notes=needed)
    tail = [line for line in completed.stdout.strip().splitlines() if line.strip()][-1:]
    summary = tail[0] if tail else ""
    if completed.returncode not in (0, 1, 5):  # 1: some tests failed; 5: none collected
        why = " ".join((completed.stderr or completed.stdout).strip().splitlines()[-3:])
        return RuntimeResult(False, problems=[Problem("--tests", f"pytest stopped ({completed.returncode}): {why}")])
    if not any(event["kind"] == "started" for event in events_read):
        why = " ".join((completed.stderr or completed.stdout).strip().splitlines()[-2:]) or "no output"
        return RuntimeResult(False, problems=[Problem("--tests", f"the project's pytest did not start: {why}")])
    result = RuntimeResult(True, summary=summary)
    outcome = next((event for event in events_read if event["kind"] == "outcome"), None)
    result.passed, result.not_judged = _judge_outcome(outcome, completed.returncode)
    for event in events_read:
        if event["kind"] in ("started", "outcome"):
            continue
        if event["kind"] == "problem":
            result.problems.append(Problem("--tests", event["what"]))
            continue
        rule, check = RULES[event["kind"]]
        path = event.get("file") or ""
        where = project.relative(path) if path else ""
        if not where or where.startswith("/") or not (project.root / where).is_file():
            where = "pyproject.toml" if (project.root / "pyproject.toml").is_file() else "manage.py"
        result.findings.append(Finding(where, int(event.get("line") or 1), rule, check, _message(event)))
    return result


def _judge_outcome(outcome: Mapping[str, object] | None, status: int) -> tuple[bool, str]:
    """Whether the project's tests passed, and why the run-time checks are not judged ("" when they are)."""
    if outcome is None:
        return False, "the test run did not finish (no outcome was recorded)"
    passed, failed = int(str(outcome["passed"])), int(str(outcome["failed"]))
    errors, uncollected = int(str(outcome["errors"])), int(str(outcome["collection_errors"]))
    first = str(outcome.get("first_error") or "")
    why = []
    if uncollected:
        why.append(f"{uncollected} test module{'s' * (uncollected != 1)} did not collect")
    if errors:
        why.append(f"{errors} of {passed + failed + errors} tests errored at set-up")
    if not why and passed + failed == 0:
        why.append("no test ran")
    reason = ", ".join(why) + (f" (first: {first})" if first and why else "")
    return status in (0, 5) and not failed and not errors and not uncollected, reason


def _message(event: Mapping[str, str]) -> str:
    kind = event["kind"]
    if kind == "n-plus-one":
        return f"{event['what']} within one request or service call: select_related() or prefetch_related()."
    if kind == "skipped":
        return f"`{event['what']}` was skipped: {event.get('reason') or 'no reason given'}."
    if kind == "publish":
        return f"{event['what']} was queued while a transaction of the code was open: use transaction.on_commit()."
    return f"{event['what']} was called while a transaction of the code was open: call it before or after."
