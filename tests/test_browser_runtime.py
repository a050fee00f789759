"""The in-browser runner's build step (dojo/browser/): the lock, the cache, what a built site carries."""

import hashlib
import importlib.metadata
import io
import json
import os
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Mapping
from pathlib import Path

import pytest

from dojo import paths
from dojo.browser import bundle, fetch
from dojo.manifest import kata_by_slug, load_katas


def test_the_lock_pins_pyodide_and_every_wheel_at_the_versions_of_uv_lock() -> None:
    pinned = fetch.load_lock()
    assert [entry.name for entry in pinned if entry.kind == "wheel"] == fetch.WHEELS
    assert {entry.name: entry.version for entry in pinned if entry.kind == "module"} == fetch.CODEMIRROR
    assert [(entry.name, entry.version) for entry in pinned if entry.kind == "pyodide"] == [("pyodide", fetch.PYODIDE)]
    locked = fetch._locked_packages()
    for entry in pinned:
        assert entry.url.startswith("https://")
        assert len(entry.sha256) == 64
        if entry.kind == "wheel":
            assert entry.version == locked[entry.name]["version"], f"{entry.name}: uv.lock moved on; re-lock"


def test_a_file_whose_hash_differs_from_the_lock_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    entry = fetch.Pinned(
        "x", "1", "https://example.invalid/x.whl", hashlib.sha256(b"good").hexdigest(), "x.whl", "wheel"
    )
    monkeypatch.setattr(fetch, "_get", lambda url: b"tampered")
    with pytest.raises(fetch.FetchError, match="sha256"):
        fetch.fetch([entry], tmp_path)
    assert not (tmp_path / "x.whl").exists()
    monkeypatch.setattr(fetch, "_get", lambda url: b"good")
    fetch.fetch([entry], tmp_path)
    assert (tmp_path / "x.whl").read_bytes() == b"good"


def test_with_no_network_and_an_empty_cache_the_site_says_the_runner_is_unavailable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def offline(url: str) -> bytes:
        raise OSError("network unreachable")

    monkeypatch.setattr(fetch, "_get", offline)
    assert fetch.install(tmp_path / "site", tmp_path / "cache") is False
    manifest = json.loads((tmp_path / "site" / "assets" / "runtime" / "runtime.json").read_text(encoding="utf-8"))
    assert manifest["available"] is False
    assert "network unreachable" in manifest["reason"]
    assert not (tmp_path / "site" / "assets" / "runtime" / "wheels").exists()


def test_a_bundle_holds_the_harness_every_grader_the_starter_and_the_reference_as_oracle() -> None:
    # the reference's edited files are the oracle of the generated scenarios; the kata page shows them
    # already, behind its spoiler
    kata = kata_by_slug()["n_plus_one"]
    made = bundle.kata_bundle(kata)
    files = made["files"]
    assert isinstance(files, dict)
    assert "dojo/pytest_plugin.py" in files
    assert "katas.toml" in files
    assert "rules.toml" in files
    assert all(f"graders/{other.slug}/kata.toml" in files for other in load_katas())
    assert "solutions/n_plus_one/models.py" in files
    assert files["solutions/n_plus_one/services.py"] == (paths.SOLUTIONS / "n_plus_one" / "services.py").read_text(
        encoding="utf-8"
    )
    assert "dojo/standard_guards.py" in files
    assert "dojo/tenants.py" in files  # the graders of service_authorization and service_roles import it
    assert "dojo/audit/static.py" in files
    assert not any("/decoys/" in name for name in files)
    assert made["editable"] == ["services.py"]
    assert made["hints"] == list(kata.hints)
    assert made["not_in_browser"] == {}
    starter = made["starter"]
    assert isinstance(starter, dict)
    assert starter["services.py"] == (paths.KATAS / "n_plus_one" / "services.py").read_text(encoding="utf-8")


def test_every_kata_either_runs_in_the_browser_or_says_why_not() -> None:
    for kata in load_katas():
        why = bundle.why_not(kata)
        assert (kata.slug in bundle.IN_BROWSER) == (why is None)
    assert set(bundle.WHY_NOT) <= set(kata_by_slug())


def test_the_django_wheel_the_site_serves_has_no_admin_gis_or_foreign_locales(tmp_path: Path) -> None:
    names = [
        "django/__init__.py",
        "django/contrib/admin/options.py",
        "django/contrib/gis/db/models.py",
        "django/contrib/auth/locale/fr/LC_MESSAGES/django.mo",
        "django/conf/locale/__init__.py",
        "django/conf/locale/en/formats.py",
        "django/conf/locale/de/formats.py",
        "django/contrib/auth/models.py",
    ]
    source = tmp_path / "django.whl"
    with zipfile.ZipFile(source, "w") as wheel:
        for name in names:
            wheel.writestr(name, name)
    fetch.slim(source, tmp_path / "slim.whl", fetch.SLIM["django"])
    with zipfile.ZipFile(tmp_path / "slim.whl") as smaller:
        assert smaller.namelist() == [
            "django/__init__.py",
            "django/conf/locale/__init__.py",
            "django/conf/locale/en/formats.py",
            "django/contrib/auth/models.py",
        ]


def test_the_faker_and_ninja_wheels_keep_english_fake_data_and_leave_out_the_docs_pages(tmp_path: Path) -> None:
    kept = {
        "faker": [
            "faker/__init__.py",
            "faker/providers/person/__init__.py",
            "faker/providers/person/en/__init__.py",
            "faker/providers/person/en_US/__init__.py",
            "faker/providers/bank/en_GB/__init__.py",
        ],
        "django-ninja": ["ninja/__init__.py", "ninja/openapi/docs.py", "ninja/templates/ninja/swagger.html"],
    }
    left_out = {
        "faker": ["faker/providers/person/de_DE/__init__.py", "faker/providers/address/zh_CN/__init__.py"],
        "django-ninja": ["ninja/static/ninja/swagger-ui-bundle.js", "ninja/static/ninja/redoc.standalone.js"],
    }
    for name, files in kept.items():
        source = tmp_path / f"{name}.whl"
        with zipfile.ZipFile(source, "w") as wheel:
            for file in [*files, *left_out[name]]:
                wheel.writestr(file, file)
        fetch.slim(source, tmp_path / f"{name}-slim.whl", fetch.SLIM[name])
        with zipfile.ZipFile(tmp_path / f"{name}-slim.whl") as smaller:
            assert smaller.namelist() == files, name


def test_only_the_checks_marked_postgresql_are_left_out_in_the_browser_with_the_reason() -> None:
    skipped = bundle.not_in_browser(kata_by_slug()["atomic_invariants"])
    assert skipped == {
        "test_concurrent_moves_never_lose_or_invent_seats": bundle.NEEDS_POSTGRESQL,
        "test_a_target_deleted_by_another_admin_during_a_move_on_postgresql": bundle.NEEDS_POSTGRESQL,
        "test_two_moves_that_share_a_subscription_both_count_in_every_pairing": bundle.NEEDS_POSTGRESQL,
    }


def test_each_mark_that_keeps_a_check_out_of_the_browser_gives_its_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kata = kata_by_slug()["atomic_invariants"]
    monkeypatch.setattr(paths, "GRADERS", tmp_path)
    kata.grader_dir.mkdir()
    (kata.grader_dir / "test_marked.py").write_text(
        "import pytest\n\n\n"
        "@pytest.mark.postgresql\ndef test_rows_locked() -> None: ...\n\n\n"
        "@pytest.mark.threads\n@pytest.mark.django_db(transaction=True)\ndef test_a_worker_thread() -> None: ...\n\n\n"
        "@pytest.mark.command_line_only\ndef test_not_yet_proven() -> None: ...\n\n\n"
        '@pytest.mark.command_line_only("it starts a process")\ndef test_a_process_of_its_own() -> None: ...\n\n\n'
        "def test_in_the_browser() -> None: ...\n",
        encoding="utf-8",
    )
    assert bundle.not_in_browser(kata) == {
        "test_rows_locked": bundle.NEEDS_POSTGRESQL,
        "test_a_worker_thread": bundle.NEEDS_THREADS,
        "test_not_yet_proven": bundle.NOT_PROVEN,
        "test_a_process_of_its_own": "it starts a process",
    }
    (kata.grader_dir / "test_marked.py").write_text(
        "import pytest\n\n\n@pytest.mark.command_line_only(reason='keyword')\ndef test_a() -> None: ...\n",
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match="the mark takes one argument, the reason, as a string"):
        bundle.not_in_browser(kata)


def _npm_package(tmp_path: Path, meta: Mapping[str, object], files: Mapping[str, str]) -> tarfile.TarFile:
    path = tmp_path / "package.tgz"
    with tarfile.open(path, "w:gz") as archive:
        for name, text in {"package.json": json.dumps(meta), **files}.items():
            data = text.encode("utf-8")
            member = tarfile.TarInfo(f"package/{name}")
            member.size = len(data)
            archive.addfile(member, io.BytesIO(data))
    return tarfile.open(path, "r:gz")


def test_an_editor_module_imports_the_other_packages_as_the_files_the_site_serves(tmp_path: Path) -> None:
    source = (
        "import { EditorView } from '@codemirror/view';\n"
        'import elt from "crelt";\n'
        "export { StringStream } from '@codemirror/streamparser';\n"
        "const note = 'import x from \"elsewhere\"';\n"
    )
    meta = {"name": "@codemirror/example", "module": "dist/index.js", "main": "dist/index.cjs"}
    with _npm_package(tmp_path, meta, {"dist/index.js": source}) as archive:
        served = fetch.es_module(archive, {"@codemirror/view", "crelt", "@codemirror/streamparser"})
    assert served == (
        "import { EditorView } from './codemirror-view.js';\n"
        'import elt from "./crelt.js";\n'
        "export { StringStream } from './codemirror-streamparser.js';\n"
        "const note = 'import x from \"elsewhere\"';\n"
    )
    with _npm_package(tmp_path, meta, {"dist/index.js": source}) as archive, pytest.raises(fetch.FetchError):
        fetch.es_module(archive, {"@codemirror/view"})  # crelt is not pinned: the build refuses it


def _warm_imports() -> list[str]:
    """The modules the in-browser worker imports before the learner presses Check."""
    worker = (paths.REPO / "docs" / "assets" / "javascripts" / "dojo-worker.mjs").read_text(encoding="utf-8")
    warm = worker.split("const WARM = `", 1)[1].split("`;", 1)[0]
    modules = []
    for line in warm.splitlines():
        if line.startswith("import ") and "${" not in line:
            modules += [name.strip() for name in line.removeprefix("import ").split(",")]
    return modules


def _refusing_settings(folder: Path) -> dict[str, str]:
    """Settings in `folder` that raise when read, and an environment that points at nothing else."""
    (folder / "settings_that_refuse.py").write_text('raise RuntimeError("the settings were read")\n')
    return {key: value for key, value in os.environ.items() if key not in ("DJANGO_SETTINGS_MODULE", "DOJO_KATAS")}


def test_the_browser_worker_warms_up_on_modules_that_read_no_settings_and_no_kata(tmp_path: Path) -> None:
    warm = _warm_imports()
    assert {"dojo.pytest_plugin", "pytest_django.plugin", "factory.django"} <= set(warm)
    served = {name.replace("-", "_").lower() for name in fetch.WHEELS}
    for module in warm:  # each comes with Python, with the harness, or in a wheel the site serves
        top = module.split(".")[0]
        found = importlib.metadata.packages_distributions().get(top, [])
        assert (
            top in sys.stdlib_module_names
            or top == "dojo"
            or {dist.replace("-", "_").lower() for dist in found} & served
        ), f"{module}: no wheel the site serves holds it"
    env = _refusing_settings(tmp_path)
    probe = (
        "import json, os, sys\n"
        f"sys.path[:0] = [{str(tmp_path)!r}, {str(paths.REPO)!r}]\n"
        "os.environ.update(DJANGO_SETTINGS_MODULE='settings_that_refuse', DOJO_IN_PROCESS='1')\n"
        f"for name in {warm!r}:\n"
        "    __import__(name)\n"
        f"katas = {[kata.slug for kata in load_katas()]!r}\n"
        "loaded = [name for name in sys.modules if name.split('.')[0] in katas or name == 'dojo.settings']\n"
        "print(json.dumps(sorted(loaded)))\n"
    )
    ran = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120, check=False
    )
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout.splitlines()[-1]) == []


def test_the_probe_of_the_warm_list_would_see_a_module_that_reads_the_settings(tmp_path: Path) -> None:
    """Ninja reads the settings when imported: the probe's refusing settings must stop it."""
    env = _refusing_settings(tmp_path)
    env["DJANGO_SETTINGS_MODULE"] = "settings_that_refuse"
    env["PYTHONPATH"] = str(tmp_path)
    ran = subprocess.run(
        [sys.executable, "-c", "import ninja"], capture_output=True, text=True, env=env, timeout=120, check=False
    )
    assert ran.returncode != 0
    assert "the settings were read" in ran.stderr
    assert "ninja" not in _warm_imports()
