"""Fetch the in-browser runner's files, pinned by `browser.lock.json`, into a cache outside git.

The kata pages grade the learner's code with the real graders, on Pyodide (WebAssembly CPython) in a Web
Worker. Everything the worker loads is served by the site itself, from `assets/runtime/`: the Pyodide
core from npm and the wheels of the graders' dependencies from PyPI. This module downloads each file
once into `.dojo/browser-cache/`, checks its sha256 against the lock, and copies the runtime into a
built site (`dojo/docs_hooks.py` calls `install` after every build).

- `uv run python -m dojo.browser.fetch` fetches into the cache (what a build does by itself);
- `uv run python -m dojo.browser.fetch --lock` re-writes the lock: the wheels at the versions and hashes
  of `uv.lock`, the runtime at `PYODIDE` from npm; then it fetches.

With no network and an empty cache nothing is installed: the site still builds, and the kata pages say
that the in-browser runner is unavailable.
"""

import argparse
import hashlib
import io
import json
import posixpath
import re
import shutil
import sys
import tarfile
import tomllib
import urllib.request
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

from dojo import paths
from dojo.browser import bundle
from dojo.manifest import load_katas

PYODIDE = "314.0.7"
PYODIDE_ABI = "pyemscripten_2026_0_wasm32"
# the graders' imports, and what they import in turn, as distribution names in uv.lock
WHEELS = [
    "django",
    "asgiref",
    "sqlparse",
    "tzdata",
    "django-ninja",
    "pydantic",
    "pydantic-core",
    "annotated-types",
    "typing-extensions",
    "typing-inspection",
    "pytest",
    "pluggy",
    "iniconfig",
    "packaging",
    "pygments",
    "pytest-django",
    "factory-boy",
    "faker",
    "dj-database-url",
    "httpx",
    "httpcore",
    "h11",
    "anyio",
    "idna",
    "certifi",
    "respx",
    "stamina",
    "tenacity",
    "hypothesis",
    "attrs",
    "sortedcontainers",
]
# the editor (CodeMirror 6) and what it imports, from npm: ES modules served as they are, each import of
# another package rewritten to the file the site serves it as (`assets/runtime/codemirror/`)
CODEMIRROR = {
    "@codemirror/state": "6.7.6",
    "@codemirror/view": "6.43.15",
    "@codemirror/language": "6.13.1",
    "@codemirror/commands": "6.11.1",
    "@codemirror/autocomplete": "6.20.4",
    "@codemirror/lang-python": "6.2.1",
    "@codemirror/streamparser": "6.0.0",
    "@lezer/common": "1.5.5",
    "@lezer/highlight": "1.2.5",
    "@lezer/lr": "1.4.12",
    "@lezer/python": "1.1.19",
    "@marijn/find-cluster-break": "1.0.4",
    "crelt": "1.0.7",
    "style-mod": "4.1.5",
    "w3c-keyname": "2.2.8",
}
# the files of the npm package the worker loads (the rest are type stubs and other entry points)
PYODIDE_FILES = ["pyodide.mjs", "pyodide.asm.mjs", "pyodide.asm.wasm", "python_stdlib.zip", "pyodide-lock.json"]
TIMEOUT_SECONDS = 60
# what the site leaves out of a wheel: no grader uses Django's admin, GIS or translations but English,
# nor fake data in any language but English (faker's default en_US falls back on en and en_GB), nor the
# Swagger and Redoc pages that Ninja's /docs serves (a grader reads the OpenAPI document, never the page)
SLIM = {
    "django-ninja": re.compile(r"ninja/static/"),
    "django": re.compile(r"django/contrib/(admin|admindocs|gis)/|django/(?:.+/)?locale/(?!en/|__init__)[^/]+/"),
    "faker": re.compile(r"faker/providers/[^/]+/(?!en(?:_[A-Z]{2})?/)[a-z]{2,3}(?:_[A-Za-z]+)?/"),
}


def lock_path() -> Path:
    return paths.REPO / "browser.lock.json"


def cache_dir() -> Path:
    return paths.repo().browser_cache


@dataclass(frozen=True)
class Pinned:
    """One file of the runtime: where it comes from, and the hash it must have."""

    name: str
    version: str
    url: str
    sha256: str
    filename: str
    kind: str  # "pyodide" (the npm tarball), "wheel", or "module" (an npm package of the editor)


class FetchError(RuntimeError):
    """A file could not be downloaded, or did not match its lock."""


def load_lock(path: Path | None = None) -> list[Pinned]:
    data = json.loads((path or lock_path()).read_text(encoding="utf-8"))
    return [Pinned(**entry) for entry in data["files"]]


def _get(url: str) -> bytes:
    if not url.startswith("https://"):
        raise FetchError(f"refusing a non-https URL: {url}")
    with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310 - https only, above
        return bytes(response.read())


def _locked_packages() -> dict[str, dict[str, object]]:
    data = tomllib.loads((paths.REPO / "uv.lock").read_text(encoding="utf-8"))
    return {package["name"]: package for package in data["package"]}


def _wheel_for_pyodide(name: str, package: dict[str, object]) -> Pinned:
    """The pure-Python wheel of a `uv.lock` package, else its wheel for Pyodide's ABI, with uv.lock's hash."""
    wheels = [wheel for wheel in package.get("wheels", []) if isinstance(wheel, dict)]  # type: ignore[attr-defined]
    names = {wheel["url"].rsplit("/", 1)[1]: wheel for wheel in wheels}
    wanted = [n for n in names if n.endswith("-none-any.whl")] or [n for n in names if PYODIDE_ABI in n]
    if not wanted:
        raise FetchError(f"{name} {package['version']}: uv.lock has no pure-Python or {PYODIDE_ABI} wheel")
    wheel = names[wanted[0]]
    algorithm, digest = str(wheel["hash"]).split(":", 1)
    if algorithm != "sha256":
        raise FetchError(f"{name}: uv.lock hashes with {algorithm}, not sha256")
    return Pinned(name, str(package["version"]), str(wheel["url"]), digest, wanted[0], "wheel")


def resolve() -> list[Pinned]:
    """The lock's entries: Pyodide from npm, and the wheels at the versions and hashes of uv.lock."""
    npm = json.loads(_get(f"https://registry.npmjs.org/pyodide/{PYODIDE}"))
    tarball = npm["dist"]["tarball"]
    digest = hashlib.sha256(_get(tarball)).hexdigest()
    pinned = [Pinned("pyodide", PYODIDE, tarball, digest, tarball.rsplit("/", 1)[1], "pyodide")]
    packages = _locked_packages()
    pinned += [_wheel_for_pyodide(name, packages[name]) for name in WHEELS]
    for name, version in CODEMIRROR.items():
        tarball = f"https://registry.npmjs.org/{name}/-/{name.rsplit('/', 1)[-1]}-{version}.tgz"
        digest = hashlib.sha256(_get(tarball)).hexdigest()
        filename = f"{module_name(name)}-{version}.tgz"
        pinned.append(Pinned(name, version, tarball, digest, filename, "module"))
    return pinned


def module_name(package: str) -> str:
    """The file name the site serves an npm package as: `@codemirror/view` → `codemirror-view`."""
    return package.removeprefix("@").replace("/", "-")


_IMPORT = re.compile(r"""^((?:import|export)\b[^'"\n]*?\bfrom\s*|import\s*)(['"])([^'"]+)\2""", re.MULTILINE)


def es_module(archive: tarfile.TarFile, packages: set[str]) -> str:
    """The entry module of an npm package, its imports of `packages` pointing at the served files."""
    member = archive.extractfile("package/package.json")
    if member is None:
        raise FetchError("an npm package without package.json")
    meta = json.loads(member.read())
    exports = meta.get("exports", {})
    exports = exports.get(".", exports) if isinstance(exports, dict) else {}
    entry = meta.get("module") or (exports.get("import") if isinstance(exports, dict) else None) or meta["main"]
    if isinstance(entry, dict):
        entry = entry["default"]
    source = archive.extractfile(f"package/{posixpath.normpath(entry)}")
    if source is None:
        raise FetchError(f"{meta['name']} has no {entry}")

    def served(match: re.Match[str]) -> str:
        name = match.group(3)
        if name not in packages:
            raise FetchError(f"{meta['name']} imports {name}, which the lock does not pin")
        return f"{match.group(1)}{match.group(2)}./{module_name(name)}.js{match.group(2)}"

    return _IMPORT.sub(served, source.read().decode("utf-8"))


def write_lock(pinned: list[Pinned], path: Path | None = None) -> None:
    document = {
        "comment": "written by `uv run python -m dojo.browser.fetch --lock`; read by dojo/browser/fetch.py",
        "files": [asdict(entry) for entry in pinned],
    }
    (path or lock_path()).write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


def fetch(pinned: list[Pinned], cache: Path | None = None) -> Path:
    """Download what the cache lacks, check every hash, and return the cache folder."""
    cache = cache or cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    for entry in pinned:
        target = cache / entry.filename
        if target.is_file() and hashlib.sha256(target.read_bytes()).hexdigest() == entry.sha256:
            continue
        content = _get(entry.url)
        digest = hashlib.sha256(content).hexdigest()
        if digest != entry.sha256:
            raise FetchError(f"{entry.filename}: sha256 {digest}, the lock says {entry.sha256}")
        partial = target.with_suffix(target.suffix + ".part")
        partial.write_bytes(content)
        partial.replace(target)
    return cache


def complete(pinned: list[Pinned], cache: Path) -> bool:
    """Whether the cache holds every locked file, unchanged."""
    for entry in pinned:
        target = cache / entry.filename
        if not target.is_file() or hashlib.sha256(target.read_bytes()).hexdigest() != entry.sha256:
            return False
    return True


def manifest(pinned: list[Pinned]) -> dict[str, object]:
    """What the worker reads (`assets/runtime/runtime.json`): the Pyodide version and the wheels to load."""
    return {
        "pyodide": next(entry.version for entry in pinned if entry.kind == "pyodide"),
        "wheels": [entry.filename for entry in pinned if entry.kind == "wheel"],
        "editor": bool([entry for entry in pinned if entry.kind == "module"]),
        "versions": {entry.name: entry.version for entry in pinned},
    }


def slim(source: Path, target: Path, left_out: re.Pattern[str] | None) -> None:
    """Copy a wheel, without the files that `left_out` matches (the install reads no RECORD hashes)."""
    if left_out is None:
        shutil.copyfile(source, target)
        return
    with zipfile.ZipFile(source) as wheel, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as smaller:
        for item in wheel.infolist():
            if not left_out.match(item.filename):
                smaller.writestr(item, wheel.read(item))


def install(site_dir: Path, cache: Path | None = None) -> bool:
    """Copy the runtime and the kata bundles into a built site's `assets/runtime/`.

    Returns False when the runtime could not be fetched: `runtime.json` then says so, and the kata
    pages show that the in-browser runner is unavailable (the site itself still builds).
    """
    cache = cache or cache_dir()
    runtime = site_dir / "assets" / "runtime"
    runtime.mkdir(parents=True, exist_ok=True)
    pinned = load_lock()
    try:
        fetch(pinned, cache)
    except (OSError, FetchError) as error:
        reason = f"the runtime could not be fetched at build time ({error})"
        print(f"dojo: the in-browser runner is unavailable: {reason}", file=sys.stderr)
        (runtime / "runtime.json").write_text(json.dumps({"available": False, "reason": reason}) + "\n")
        return False
    (runtime / "pyodide").mkdir(exist_ok=True)
    (runtime / "wheels").mkdir(exist_ok=True)
    (runtime / "katas").mkdir(exist_ok=True)
    (runtime / "codemirror").mkdir(exist_ok=True)
    modules = {entry.name for entry in pinned if entry.kind == "module"}
    for entry in pinned:
        source = cache / entry.filename
        if entry.kind == "wheel":
            slim(source, runtime / "wheels" / entry.filename, SLIM.get(entry.name))
            continue
        if entry.kind == "module":
            with tarfile.open(fileobj=io.BytesIO(source.read_bytes()), mode="r:gz") as archive:
                text = es_module(archive, modules)
            (runtime / "codemirror" / f"{module_name(entry.name)}.js").write_text(text, encoding="utf-8")
            continue
        with tarfile.open(fileobj=io.BytesIO(source.read_bytes()), mode="r:gz") as archive:
            for name in PYODIDE_FILES:
                member = archive.extractfile(f"package/{name}")
                if member is None:
                    raise FetchError(f"{entry.filename} has no {name}")
                (runtime / "pyodide" / name).write_bytes(member.read())
    for kata in load_katas():
        if bundle.why_not(kata) is None:
            text = json.dumps(bundle.kata_bundle(kata), ensure_ascii=False)
            (runtime / "katas" / f"{kata.slug}.json").write_text(text, encoding="utf-8")
    document = {"available": True, **manifest(pinned)}
    (runtime / "runtime.json").write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return True


def main(args: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m dojo.browser.fetch", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--lock", action="store_true", help="re-resolve browser.lock.json from npm and PyPI first")
    options = parser.parse_args(args)
    try:
        if options.lock:
            write_lock(resolve())
        pinned = load_lock()
        cache = fetch(pinned)
    except (OSError, FetchError) as error:
        print(f"dojo: {error}", file=sys.stderr)
        return 1
    print(f"{cache.relative_to(paths.REPO)}/: {len(pinned)} files, hashes checked")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
