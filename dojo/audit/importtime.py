"""The checks that load the project's Django (no database): the app registry and the NinjaAPIs' OpenAPI.

The facts are gathered by `probe.py`, run with the project's own interpreter, so a project on other
versions of Django and Ninja than ours audits as itself. Its code reaches that interpreter through
PYTHONPATH: a temporary folder outside the audited tree, which holds the probe alone. Bytecode goes
to the user's cache (PYTHONPYCACHEPREFIX), so nothing is written into the project or its venv, and a
second audit does not compile the project again.
"""

import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import inflection

from dojo.audit.findings import Finding, Problem, Suppression
from dojo.audit.project import Project, read_text

PROBE = Path(__file__).with_name("probe.py")


def pycache(env: Mapping[str, str]) -> Path:
    """Where the project's bytecode goes while the audit loads it: the user's cache, never the project's tree."""
    base = Path(env["XDG_CACHE_HOME"]) if env.get("XDG_CACHE_HOME") else Path.home() / ".cache"
    return base / "dojo-audit" / "pycache"


VERSIONED = re.compile(r"^/api/v[0-9]+/")
TIMEOUT_SECONDS = 120
TIMESTAMPS = ("created_at", "updated_at")
DATETIME_FIELDS = {"DateTimeField"}
SINGULAR_ENDINGS = ("ss", "us", "is", "ics", "news", "as")
OPT_OUTS = {"DJ-3", "API-4"}  # the standard allows exceptions to these, "with justification"


@dataclass
class Facts:
    """What the probe reported; `error` is set when the settings could not be loaded."""

    error: str = ""
    versions: dict[str, str] = field(default_factory=dict)
    apps: list[dict[str, Any]] = field(default_factory=list)
    apis: list[dict[str, Any]] = field(default_factory=list)
    drf_routes: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def gather(project: Project, env: Mapping[str, str], apps: Sequence[Path] = ()) -> Facts:
    """The project's facts; `apps` limits them to these app folders (default: the audited folder, if one)."""
    if project.python is None:
        return Facts(error="no Python interpreter found for the project (give one with --python)")
    with tempfile.TemporaryDirectory(prefix="dojo-audit-") as folder:
        shutil.copyfile(PROBE, Path(folder) / "dojo_audit_probe.py")
        output = Path(folder) / "facts.json"
        paths = [folder, *(str(path) for path in project.import_paths)]
        if env.get("PYTHONPATH"):
            paths.append(env["PYTHONPATH"])
        child_env = {
            **env,
            "PYTHONPATH": ":".join(paths),
            # bytecode goes to the user's cache, never next to the project's sources or into its venv
            "PYTHONPYCACHEPREFIX": str(pycache(env)),
            "DJANGO_SETTINGS_MODULE": project.settings or "",
        }
        limit = float(env.get("DOJO_AUDIT_IMPORT_TIMEOUT") or TIMEOUT_SECONDS)
        child_env["DOJO_AUDIT_PROBE_LIMIT"] = str(limit)
        child_env.pop("VIRTUAL_ENV", None)
        child_env.pop("PYTHONDONTWRITEBYTECODE", None)
        command = [project.python, "-c", "import dojo_audit_probe; dojo_audit_probe.main()"]
        only = [str(app) for app in apps] or ([str(project.root)] if project.app_folder else [])
        command += [str(output), str(project.root), os.pathsep.join(only)]
        try:
            completed = subprocess.run(  # noqa: S603 - the project's interpreter, our probe, paths we made
                command,
                cwd=project.import_paths[0],
                env=child_env,
                capture_output=True,
                text=True,
                timeout=limit + 10,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return Facts(error=f"loading the settings took over {limit:g} s{_stopped_at(output, project)}")
        except OSError as error:
            return Facts(error=f"{project.python} could not be run: {error.strerror}")
        if not output.is_file():
            if Path(f"{output}.hang").is_file() and Path(f"{output}.hang").stat().st_size:
                return Facts(error=f"loading the settings took over {limit:g} s{_stopped_at(output, project)}")
            tail = (completed.stderr or completed.stdout).strip().splitlines()[-3:]
            last = _last_import(output)
            during = f" after the import of {last} started" if last else ""
            return Facts(
                error=f"the project's Python ended itself ({completed.returncode}){during}: {' '.join(tail)}".strip()
            )
        data = json.loads(output.read_text())
    return Facts(
        error=data.get("error", ""),
        versions={name: str(data[name]) for name in ("python", "django", "ninja") if data.get(name)},
        apps=data.get("apps", []),
        apis=data.get("apis", []),
        drf_routes=data.get("drf_routes", []),
        problems=data.get("problems", []),
    )


MAX_DIAGNOSTIC_BYTES = 200_000


def _stopped_at(output: Path, project: Project) -> str:
    """Where the main thread stood when the probe's time ran out: the innermost frame of the project's code,
    from the stacks faulthandler wrote (else the last module of the project whose import started)."""
    hang = Path(f"{output}.hang")
    text = hang.read_text(errors="replace")[:MAX_DIAGNOSTIC_BYTES] if hang.is_file() else ""
    main = text.split("\n\n")[0] if "Current thread" in text else text
    for line in main.splitlines():  # most recent call first
        found = re.match(r'\s*File "(.+)", line (\d+) in (.+)', line)
        if found and _ours(project, found.group(1)) and "site-packages" not in found.group(1):
            return f": the import stopped at {project.relative(found.group(1))}:{found.group(2)} (in {found.group(3)})"
    last = _last_import(output)
    return f" (the last module of the project to start importing: {last})" if last else ""


def _last_import(output: Path) -> str:
    progress = Path(f"{output}.progress")
    if not progress.is_file():
        return ""
    with progress.open("rb") as handle:
        handle.seek(max(0, progress.stat().st_size - 4096))
        lines = handle.read().decode(errors="replace").splitlines()
    return lines[-1] if lines else ""


def plural_word(name: str) -> str | None:
    """The plural noun a model's name ends in (`Organizations` -> `Organizations`), or None when singular."""
    words = re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z0-9]+", name)
    if not words:
        return None
    last = words[-1]
    # nouns whose singular ends in s: address, status, analysis, physics, news, canvas
    if len(last) < 3 or not last.lower().endswith("s") or last.lower().endswith(SINGULAR_ENDINGS):
        return None
    return last if inflection.singularize(last.lower()) != last.lower() else None


def singular(word: str) -> str:
    return str(inflection.singularize(word.lower())).title()


def _ours(project: Project, path: object) -> bool:
    return isinstance(path, str) and Path(path).resolve().is_relative_to(project.root)


def check(project: Project, facts: Facts) -> tuple[list[Finding], list[Suppression], list[Problem]]:
    """Findings, written opt-outs (a definition whose text names the rule it is excused from), problems."""
    problems = [Problem("settings", message) for message in facts.problems]
    if facts.error:
        problems.append(Problem("settings", f"{project.settings} could not be loaded: {facts.error}"))
        return [], [], problems
    mine = Facts(
        apps=[app for app in facts.apps if _ours(project, app["path"])],
        apis=[api for api in facts.apis if _ours(project, api["file"])],
        drf_routes=[route for route in facts.drf_routes if _ours(project, route["file"])],
    )
    found = [*_models(project, mine), *_apis(project, mine), *_drf(project, mine)]
    if not project.app_folder:
        found += list(_apps_directory(project, mine))
    findings: list[Finding] = []
    opted_out: list[Suppression] = []
    for finding, where in found:
        note = _written_opt_out(where, finding.rule)
        if note:
            opted_out.append(Suppression(finding, f"written opt-out: {note}"))
        else:
            findings.append(finding)
    return findings, opted_out, problems


def inventory(project: Project, facts: Facts) -> dict[str, int]:
    """What the loaded project holds under the audited path: said in the report, so that none is silently missed."""
    apps = [app for app in facts.apps if _ours(project, app["path"])]
    return {
        "apps": len(apps),
        "models": sum(len(app["models"]) for app in apps),
        "NinjaAPIs": sum(1 for api in facts.apis if _ours(project, api["file"])),
        "DRF views": len({route["name"] for route in facts.drf_routes if _ours(project, route["file"])}),
    }


def _written_opt_out(where: Mapping[str, Any], rule: str) -> str:
    """The line of a model's or a route's source that names the rule it opts out of, if any."""
    if rule not in OPT_OUTS or not where.get("file"):
        return ""
    lines = _lines(str(where["file"]))
    start, end = int(where.get("line") or 1), int(where.get("end_line") or where.get("line") or 1)
    for line in lines[start - 1 : end]:
        if rule in line:
            return line.strip().strip('"#').strip()
    return ""


def _lines(path: str | None) -> list[str]:
    try:
        return (read_text(Path(path)) or "").splitlines() if path else []
    except OSError:
        return []


Located = tuple[Finding, Mapping[str, Any]]


def _finding(project: Project, where: Mapping[str, Any], rule: str, check: str, message: str) -> Located:
    path = str(where.get("file") or project.root)
    line = int(where.get("line") or 1)
    lines = _lines(path)
    text = lines[line - 1].strip() if 0 < line <= len(lines) else ""
    return Finding(project.relative(path), line, rule, check, message, text), where


def _models(project: Project, facts: Facts) -> Iterator[Located]:
    for app in facts.apps:
        for model in app["models"]:
            name = model["name"]
            plural = plural_word(name)
            if plural:
                yield _finding(
                    project, model, "DJ-2", "singular-model-names",
                    f"The model `{name}` is named in the plural: call it `{name[: -len(plural)]}{singular(plural)}`.",
                )  # fmt: skip
            fields = {item["name"]: item["type"] for item in model["fields"]}
            missing = [stamp for stamp in TIMESTAMPS if fields.get(stamp) not in DATETIME_FIELDS]
            if missing:
                yield _finding(
                    project, model, "DJ-3", "model-timestamps",
                    f"The model `{name}` has no {' and no '.join(missing)}: add it, or write why not (naming DJ-3).",
                )  # fmt: skip


def _operations(api: Mapping[str, Any]) -> Iterator[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    for path, methods in api["schema"].get("paths", {}).items():
        for method, operation in methods.items():
            where = api["operations"].get(operation.get("operationId", ""), {"file": api["file"], "line": 1})
            yield path, method.upper(), operation, where


def _resolve(schema: Mapping[str, Any], node: Mapping[str, Any]) -> Mapping[str, Any]:
    ref = node.get("$ref")
    if isinstance(ref, str):
        return schema.get("components", {}).get("schemas", {}).get(ref.rsplit("/", 1)[-1], node)  # type: ignore[no-any-return]
    return node


def _apis(project: Project, facts: Facts) -> Iterator[Located]:
    for api in facts.apis:
        for path, method, operation, where in _operations(api):
            label = f"{method} {path}"
            if not VERSIONED.match(path):
                yield _finding(project, where, "API-1", "api-version-prefix", f"`{label}` is not under /api/v<N>/.")
            for status, response in operation.get("responses", {}).items():
                if not str(status).startswith("2") or str(status) == "204":
                    continue
                content = response.get("content", {}).get("application/json", {}).get("schema")
                if not content:
                    yield _finding(
                        project, where, "API-2", "api-response-schemas",
                        f"`{label}` answers {status} without a response schema: declare `response=` with a Schema.",
                    )  # fmt: skip
                elif _resolve(api["schema"], content).get("type") == "array":
                    yield _finding(
                        project, where, "API-4", "api-pagination",
                        f"`{label}` answers a bare list: paginate it (`@paginate`), or opt a small enumeration out.",
                    )  # fmt: skip
        shapes: dict[tuple[str, ...], list[str]] = {}
        for shape in api["error_shapes"]:
            shapes.setdefault(tuple(shape["keys"]), []).append(shape["source"])
        if len(shapes) > 1:
            described = "; ".join(
                f"{{{', '.join(keys)}}} from {', '.join(sources[:3])}" for keys, sources in sorted(shapes.items())
            )
            where = {"file": api["file"], "line": _assignment_line(api["file"], api["variable"])}
            yield _finding(
                project, where, "API-3", "api-error-shape",
                f"The API `{api['variable']}` answers errors in {len(shapes)} shapes: {described}.",
            )  # fmt: skip


def _assignment_line(path: str, variable: str) -> int:
    pattern = re.compile(rf"^{re.escape(variable)}\s*(:[^=]*)?=")
    for number, line in enumerate(_lines(path), start=1):
        if pattern.match(line):
            return number
    return 1


def _drf(project: Project, facts: Facts) -> Iterator[Located]:
    seen: set[tuple[str, str]] = set()
    for route in facts.drf_routes:
        key = (route["name"], route["route"].split("<", 1)[0])
        if key in seen or VERSIONED.match(route["route"]):
            continue
        seen.add(key)
        yield _finding(
            project,
            route,
            "API-1",
            "api-version-prefix",
            f"The view `{route['name']}` is routed at `{route['route']}`, not under /api/v<N>/.",
        )


def _apps_directory(project: Project, facts: Facts) -> Iterator[Located]:
    for app in facts.apps:
        relative = project.relative(app["path"])
        if "apps" not in Path(relative).parts:
            where = {
                "file": str(Path(app["path"]) / "apps.py")
                if (Path(app["path"]) / "apps.py").is_file()
                else app["path"],
                "line": 1,
            }
            yield _finding(
                project,
                where,
                "DJ-1",
                "apps-directory",
                f"The app `{app['name']}` lives in `{relative}/`, not under `apps/`.",
            )
