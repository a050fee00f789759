"""The audit as a team installs it: the slim wheel, in a fresh virtualenv, outside any clone of the dojo.

The wheel is built from `packaging/dojo-audit`, installed with the fixture project's Django and Ninja
into a new virtualenv (offline from uv's cache when it holds them), and run from a folder that is no
clone: `dojo audit`, the Django system checks, and `uvx --from <wheel> dojo audit`.
"""

import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from dojo import paths

from .audit_projects import clean_project, write

# the 3.12 the dojo's .venv was made from; CPython's sys._base_executable is missing from typeshed
BASE_PYTHON = str(Path(sys._base_executable).resolve())  # type: ignore[attr-defined]


def _uv() -> list[str]:
    """`python3 -m uv` of the interpreter the dojo's .venv was made from, else uv on PATH."""
    found = subprocess.run([BASE_PYTHON, "-m", "uv", "--version"], capture_output=True, check=False)
    if found.returncode == 0:
        return [BASE_PYTHON, "-m", "uv"]
    on_path = shutil.which("uv")
    if on_path is None:
        pytest.fail("uv is not installed: `python3 -m pip install uv` (the dojo is set up with it)")
    return [on_path]


UV = _uv()
HEAVY = ("django", "django-ninja", "psycopg", "pytest", "pytest-django", "factory-boy")


def uv_run(*args: str, cwd: Path, ok: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess[str]:
    """uv, offline first (its cache holds the dojo's own wheels); online when the cache lacks one."""
    env = {**os.environ, "UV_NO_PROGRESS": "1"}
    env.pop("VIRTUAL_ENV", None)
    offline = subprocess.run([*UV, "--offline", *args], cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if offline.returncode in ok:
        return offline
    online = subprocess.run([*UV, *args], cwd=cwd, env=env, capture_output=True, text=True, check=False)
    assert online.returncode in ok, online.stderr
    return online


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    uv_run("build", "--wheel", "--python", BASE_PYTHON, "-o", str(out), "packaging/dojo-audit", cwd=paths.REPO)
    (built,) = out.glob("dojo_audit-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("team") / ".venv"
    uv_run("venv", "--python", BASE_PYTHON, str(folder), cwd=folder.parent)
    pinned = [f"{name}=={importlib.metadata.version(name)}" for name in ("django", "django-ninja")]
    uv_run("pip", "install", "--python", str(folder / "bin" / "python"), str(wheel), *pinned, cwd=folder.parent)
    return folder


def team_env() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in ("VIRTUAL_ENV", "DOJO_REPO", "PYTHONPATH")}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return env


def test_the_wheel_carries_the_registry_and_the_standard_and_requires_none_of_the_projects_frameworks(
    wheel: Path,
) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = next(archive.read(name).decode() for name in names if name.endswith(".dist-info/METADATA"))
    assert {"dojo/_data/rules.toml", "dojo/_data/katas.toml", "dojo/_data/standard/backend-rules.md"} <= names
    assert {"dojo/audit/probe.py", "dojo/audit/plugin.py", "dojo/rules.py"} <= names
    required = [line.split(":", 1)[1].strip() for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
    names_required = {requirement.split(">")[0].split("=")[0].split("[")[0].strip().lower() for requirement in required}
    assert names_required == {"ruff", "inflection", "django-zeal"}
    assert not names_required & set(HEAVY)


def test_dojo_audit_runs_from_the_installed_wheel_outside_any_clone(venv: Path, tmp_path: Path) -> None:
    project = clean_project(tmp_path / "shop", apps__orders__models_py=PLURAL_MODEL)
    completed = subprocess.run(
        [str(venv / "bin" / "dojo"), "audit", ".", "--python", str(venv / "bin" / "python"), "--format", "json"],
        cwd=project,
        env=team_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 1, completed.stderr
    report = json.loads(completed.stdout)
    assert report["versions"]["django"] == importlib.metadata.version("django")
    dj2 = [item for item in report["findings"] if item["rule"] == "DJ-2"]
    assert [(item["path"], item["line"]) for item in dj2] == [("apps/orders/models.py", 4)]
    assert dj2[0]["url"] == "docs/rules/dj-2.md"
    assert {rule["id"] for rule in report["rules"] if rule["judged"]} >= {"DJ-1", "DJ-2", "DJ-3", "API-1"}
    assert "127.0.0.1" not in completed.stdout


def test_the_django_system_checks_load_the_rules_from_the_installed_wheel(venv: Path, tmp_path: Path) -> None:
    project = clean_project(tmp_path / "shop", apps__orders__models_py=PLURAL_MODEL)
    write(project, {"shop/settings_dev.py": SETTINGS_WITH_CHECKS})
    completed = subprocess.run(
        [str(venv / "bin" / "python"), "manage.py", "check", "--tag", "dojo", "--settings", "shop.settings_dev"],
        cwd=project,
        env=team_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    output = completed.stdout + completed.stderr
    assert "(dojo.DJ-2) apps/orders/models.py" in output, output
    assert "HINT: Singular model names: docs/rules/dj-2.md" in output


def test_a_site_url_in_the_projects_pyproject_serves_every_link(venv: Path, tmp_path: Path) -> None:
    project = clean_project(tmp_path / "shop", apps__orders__models_py=PLURAL_MODEL)
    with (project / "pyproject.toml").open("a") as handle:
        handle.write('\n[tool.dojo]\nsite-url = "https://standards.example/"\n')
    write(project, {"shop/settings_dev.py": SETTINGS_WITH_CHECKS})
    checks = subprocess.run(
        [str(venv / "bin" / "python"), "manage.py", "check", "--tag", "dojo", "--settings", "shop.settings_dev"],
        cwd=project,
        env=team_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert "https://standards.example/rules/dj-2/" in checks.stdout + checks.stderr
    sarif = subprocess.run(
        [str(venv / "bin" / "dojo"), "audit", ".", "--static-only", "--format", "sarif"],
        cwd=project,
        env=team_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    rules = json.loads(sarif.stdout)["runs"][0]["tool"]["driver"]["rules"]
    assert {rule["helpUri"] for rule in rules} == {
        f"https://standards.example/rules/{rule['id'].lower()}/" for rule in rules
    }


def test_uvx_runs_the_audit_from_the_wheel(wheel: Path, tmp_path: Path) -> None:
    project = clean_project(tmp_path / "shop", apps__orders__services_py=NAIVE_STORED)
    completed = uv_run(
        "tool", "run", "--python", BASE_PYTHON, "--from", str(wheel), "dojo", "audit", ".", "--static-only",
        "--format", "json", cwd=project, ok=(1,),
    )  # fmt: skip
    assert "DJ-5" in {item["rule"] for item in json.loads(completed.stdout)["findings"]}


PLURAL_MODEL = """
    from django.db import models


    class Orders(models.Model):
        number = models.CharField(max_length=20)
        created_at = models.DateTimeField(auto_now_add=True)
        updated_at = models.DateTimeField(auto_now=True)
"""

NAIVE_STORED = """
    from datetime import datetime

    from .models import Order


    def stamp(order: Order) -> None:
        order.created_at = datetime.now()
        order.save()
"""

SETTINGS_WITH_CHECKS = """
    from shop.settings import *  # noqa: F403

    INSTALLED_APPS = [*INSTALLED_APPS, "dojo.audit.checks.StandardChecks"]  # noqa: F405
"""


def test_the_dojos_own_wheel_carries_the_registry_too(tmp_path: Path) -> None:
    uv_run("build", "--wheel", "--python", BASE_PYTHON, "-o", str(tmp_path), cwd=paths.REPO)
    (built,) = tmp_path.glob("backend_standards_dojo-*.whl")
    with zipfile.ZipFile(built) as archive:
        names = set(archive.namelist())
    assert {"dojo/_data/rules.toml", "dojo/_data/katas.toml", "dojo/_data/standard/backend-rules.md"} <= names


def test_the_installed_dojo_command_audits_outside_any_clone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from dojo.cli import main as dojo_main

    project = clean_project(tmp_path / "shop", apps__orders__models_py=PLURAL_MODEL)
    cwd = Path.cwd()
    os.chdir(project)
    try:
        status = dojo_main(["audit", ".", "--static-only"])
    finally:
        os.chdir(cwd)
    assert status == 1
    assert "not inside the Backend Standards Dojo" not in capsys.readouterr().err
