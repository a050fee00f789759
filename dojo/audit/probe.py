"""Runs inside the audited project's own interpreter: loads its Django and reports facts as JSON.

This file imports nothing of the dojo and only the standard library at the top, so it runs on the
project's Python and its versions of Django and Ninja. The audit copies it to a temporary folder,
puts that folder on PYTHONPATH and runs `python -c "import dojo_audit_probe; ..."` with the
project's interpreter (bytecode to the user's cache, PYTHONPYCACHEPREFIX). It writes one JSON file
(given as the first argument) and nothing else. It reads facts only; the rules are judged by the
audit, in the dojo's own environment.
"""
# ruff: noqa: ANN401 - facts from the project's Django are untyped here: the audit types them when it reads the JSON

from __future__ import annotations

import inspect
import json
import os
import sys
import traceback
from importlib import import_module
from typing import Any

CANDIDATE_MODULES = ("api", "urls", "views", "routers", "endpoints")


_SOURCES: dict[str, list[str]] = {}


def _source_lines(path: str) -> list[str]:
    if path not in _SOURCES:
        try:
            with open(path, encoding="utf-8", errors="replace") as handle:
                _SOURCES[path] = handle.read().splitlines()
        except OSError:
            _SOURCES[path] = []
    return _SOURCES[path]


def _location(obj: Any) -> dict[str, Any]:
    """Where a class or function is defined: its file, first and last line (cheaper than inspect's)."""
    target = inspect.unwrap(obj)
    code = getattr(target, "__code__", None)
    if code is not None:
        ends = [line for _start, _end, line in code.co_lines() if line]
        return {"file": code.co_filename, "line": code.co_firstlineno, "end_line": max(ends or [code.co_firstlineno])}
    module = sys.modules.get(getattr(target, "__module__", ""), None)
    path = getattr(module, "__file__", None)
    if not path:
        return {"file": None, "line": 1, "end_line": 1}
    lines = _source_lines(path)
    name = getattr(target, "__name__", "")
    for number, line in enumerate(lines, start=1):
        stripped = line.lstrip()
        if stripped.startswith(f"class {name}") and stripped[len(name) + 6 : len(name) + 7] in ("(", ":"):
            indent = len(line) - len(stripped)
            end = number
            for later, text in enumerate(lines[number:], start=number + 1):
                if text.strip() and len(text) - len(text.lstrip()) <= indent:
                    break
                if text.strip():
                    end = later
            return {"file": path, "line": number, "end_line": end}
    return {"file": path, "line": 1, "end_line": 1}


def _inside(path: str | None, roots: list[str]) -> bool:
    if not path:
        return False
    real = os.path.realpath(path)
    return any(real == root or real.startswith(root + os.sep) for root in roots) and "site-packages" not in real


def _models(app: Any) -> list[dict[str, Any]]:
    found = []
    for model in app.get_models():
        meta = model._meta
        if meta.proxy or (not meta.managed and meta.auto_created):
            continue
        fields = [
            {"name": field.name, "type": type(field).__name__}
            for field in meta.get_fields()
            if getattr(field, "concrete", False)
        ]
        found.append({"name": model.__name__, "fields": fields, **_location(model)})
    return found


def _walk(patterns: Any, prefix: str, problems: list[str]) -> Any:
    """Every pattern with its full route, resolvers included."""
    for pattern in patterns:
        route = prefix + str(pattern.pattern).lstrip("^").rstrip("$").replace("\\/", "/")
        yield route, pattern
        if hasattr(pattern, "url_patterns"):
            try:
                children = pattern.url_patterns
            except Exception as error:  # a URLconf that fails to import is reported, the rest goes on
                problems.append(f"URLconf under /{route} failed to load: {type(error).__name__}: {error}")
                continue
            yield from _walk(children, route, problems)


def _owners(callback: Any, depth: int = 4) -> Any:
    """The objects with `operations` (Ninja's path views) behind a URL pattern's callback.

    Ninja's callback is a method of its path view, or a function that closes over it. A project may
    wrap that callback in its own (as `dojo.api_errors.urls()` does, with `functools.wraps`): the
    wrapped callback is followed through `__wrapped__` and through the functions it closes over.
    """
    if callback is None or depth < 0:
        return
    owner = getattr(callback, "__self__", None)
    if hasattr(owner, "operations"):
        yield owner
    inner = [getattr(callback, "__wrapped__", None)]
    for cell in getattr(callback, "__closure__", None) or ():
        try:
            value = cell.cell_contents
        except ValueError:
            continue
        if hasattr(value, "operations"):
            yield value
        elif callable(value):
            inner.append(value)
    for wrapped in inner:
        yield from _owners(wrapped, depth - 1)


def _path_views(resolver: Any) -> Any:
    for pattern in resolver.url_patterns:
        seen: set[int] = set()
        for owner in _owners(getattr(pattern, "callback", None)):
            if id(owner) not in seen:
                seen.add(id(owner))
                yield owner
        if hasattr(pattern, "url_patterns"):
            yield from _path_views(pattern)


def _shape_keys(schema: dict[str, Any], components: dict[str, Any], depth: int = 4) -> list[str]:
    """The top-level keys of a declared body. A union (`anyOf`, `oneOf`: `response={400: A | B}`) is one
    shape when its members share keys (the keys they all have), so that a union of error types of one
    envelope reads as that envelope; `allOf` merges its members' keys."""
    ref = schema.get("$ref", "")
    resolved = components.get(ref.rsplit("/", 1)[-1], schema) if ref else schema
    members = resolved.get("anyOf") or resolved.get("oneOf")
    if members and depth:
        keyed = [set(_shape_keys(member, components, depth - 1)) for member in members]
        shared = set.intersection(*keyed) if keyed else set()
        return sorted(shared) or sorted(set.union(*keyed))
    if resolved.get("allOf") and depth:
        return sorted({key for member in resolved["allOf"] for key in _shape_keys(member, components, depth - 1)})
    return sorted(resolved.get("properties", {})) or [str(resolved.get("type", "?"))]


def _error_shapes(api: Any, schema: dict[str, Any]) -> list[dict[str, Any]]:
    from django.http import Http404
    from django.test import RequestFactory

    shapes = []
    request = RequestFactory().get("/")
    probes: list[tuple[str, Exception]] = [("Http404", Http404("Not found."))]
    try:
        from ninja.errors import AuthenticationError, HttpError, ValidationError

        probes += [
            ("HttpError(409)", HttpError(409, "Conflict.")),
            ("ValidationError", ValidationError([{"loc": ["body", "field"], "msg": "bad", "type": "value_error"}])),
            ("AuthenticationError", AuthenticationError()),
        ]
    except ImportError:
        pass
    for name, error in probes:
        try:
            response = api.on_exception(request, error)
            body = json.loads(response.content or b"null")
        except Exception:  # noqa: S112 - no handler for this error, or one that needs more than a bare request
            continue
        keys = sorted(body) if isinstance(body, dict) else [type(body).__name__]
        shapes.append({"source": f"its handler of {name}", "keys": keys})
    components = schema.get("components", {}).get("schemas", {})
    for path, methods in schema.get("paths", {}).items():
        for method, operation in methods.items():
            for status, response in operation.get("responses", {}).items():
                if not str(status).isdigit() or int(status) < 400:
                    continue
                content = response.get("content", {}).get("application/json", {}).get("schema")
                if not content:
                    continue
                keys = _shape_keys(content, components)
                shapes.append({"source": f"{status} of {method.upper()} {path}", "keys": keys})
    return shapes


def _apis(roots: list[str], app_modules: list[str], problems: list[str]) -> list[dict[str, Any]]:
    try:
        from ninja import NinjaAPI
    except ImportError:
        return []
    from django.conf import settings
    from django.urls import get_resolver

    for name in app_modules:
        try:
            import_module(name)
        except Exception as error:
            problems.append(f"{name} failed to import: {type(error).__name__}: {error}")
    mounted: dict[str, tuple[str, Any]] = {}
    if getattr(settings, "ROOT_URLCONF", None):
        try:
            for route, pattern in _walk(get_resolver().url_patterns, "", problems):
                if getattr(pattern, "app_name", None) == "ninja":
                    mounted.setdefault(pattern.namespace, (route, pattern))
        except Exception as error:
            problems.append(f"ROOT_URLCONF failed to load: {type(error).__name__}: {error}")
    found = []
    for module_name, module in list(sys.modules.items()):
        module_file = getattr(module, "__file__", None)
        if not _inside(module_file, roots):
            continue
        for variable, api in list(vars(module).items()):
            if not isinstance(api, NinjaAPI) or getattr(api, "_dojo_seen", False):
                continue
            api._dojo_seen = True  # type: ignore[attr-defined]
            namespace = api.urls_namespace.split(":")[-1]
            entry: dict[str, Any] = {"module": module_name, "file": module_file, "variable": variable}
            resolver = None
            if namespace in mounted:
                prefix, resolver = mounted[namespace]
                entry["mounted"] = "ROOT_URLCONF"
            else:
                prefix = ""
                entry["mounted"] = ""
                try:  # an API that only its own module's URLconf mounts (an app audited on its own)
                    from django.urls import URLResolver
                    from django.urls.resolvers import RoutePattern

                    local = URLResolver(RoutePattern(""), module_name)
                    for route, pattern in _walk(local.url_patterns, "", problems):
                        if getattr(pattern, "app_name", None) == "ninja" and pattern.namespace == namespace:
                            prefix, resolver = route, pattern
                            entry["mounted"] = f"{module_name}.urlpatterns"
                            break
                except Exception:  # the module has no urlpatterns
                    resolver = None
            entry["prefix"] = "/" + prefix
            try:
                schema = api.get_openapi_schema(path_prefix="/" + prefix)
                schema = json.loads(json.dumps(schema, default=str))
            except Exception as error:
                problems.append(f"{module_name}.{variable}: OpenAPI schema failed: {type(error).__name__}: {error}")
                continue
            entry["schema"] = schema
            operations: dict[str, dict[str, Any]] = {}
            if resolver is not None:
                for path_view in _path_views(resolver):
                    for operation in path_view.operations:
                        try:
                            operation_id = operation.operation_id or api.get_openapi_operation_id(operation)
                        except Exception:  # noqa: S112 - an operation without an ID has no finding to place
                            continue
                        operations[operation_id] = {
                            "name": operation.view_func.__name__,
                            **_location(operation.view_func),
                        }
            entry["operations"] = operations
            entry["error_shapes"] = _error_shapes(api, schema)
            found.append(entry)
    return found


def _drf_routes(problems: list[str], roots: list[str]) -> list[dict[str, Any]]:
    from django.conf import settings
    from django.urls import get_resolver

    if not getattr(settings, "ROOT_URLCONF", None):
        return []
    routes = []
    try:
        for route, pattern in _walk(get_resolver().url_patterns, "", []):
            view = getattr(getattr(pattern, "callback", None), "cls", None)
            if view is None or not hasattr(view, "renderer_classes"):
                continue
            location = _location(view)
            if _inside(location["file"], roots):
                routes.append({"route": "/" + route, "name": view.__name__, **location})
    except Exception as error:
        problems.append(f"ROOT_URLCONF failed to load: {type(error).__name__}: {error}")
    return routes


def _where(trace: Any, root: str) -> str:
    """The innermost place of the project's own code in a traceback: `path:line`, relative to root."""
    found = ""
    for frame, line in traceback.walk_tb(trace):
        if frame.f_code.co_filename.startswith("<"):  # frozen modules, exec'd code
            continue
        path = os.path.realpath(frame.f_code.co_filename)
        if path.startswith(root + os.sep) and "site-packages" not in path:
            found = f"{os.path.relpath(path, root)}:{line}"
    return found


class _ImportWatch:
    """A finder first on sys.meta_path that finds nothing: it writes the name of each module of the project
    as its import starts, so that a process that ends itself (`os._exit`) at import still says where."""

    def __init__(self, root: str, progress: str) -> None:
        self.tops = {name.removesuffix(".py") for name in os.listdir(root) if not name.startswith(".")}
        self.handle = open(progress, "a", encoding="utf-8")  # noqa: SIM115 - open for the life of the process

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name.split(".", 1)[0] in self.tops:
            self.handle.write(f"{name}\n")
            self.handle.flush()


def main() -> None:
    output, root, only_app = sys.argv[1], os.path.realpath(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else ""
    facts: dict[str, Any] = {"python": sys.version.split()[0], "problems": []}
    limit = float(os.environ.get("DOJO_AUDIT_PROBE_LIMIT") or 0)
    if limit:  # a hang at import: the stacks go to a file the audit reads, then the process ends
        import faulthandler

        faulthandler.dump_traceback_later(limit, exit=True, file=open(output + ".hang", "w"))  # noqa: SIM115
    sys.meta_path.insert(0, _ImportWatch(root, output + ".progress"))
    try:
        import django

        facts["django"] = django.get_version()
        django.setup()
    except BaseException as error:  # SystemExit too: a module that exits at import is named, with its line
        where = _where(error.__traceback__, root)
        facts["error"] = f"{type(error).__name__}: {error}" + (f" (at {where})" if where else "")
        facts["traceback"] = traceback.format_exc(limit=-3)
        with open(output, "w", encoding="utf-8") as handle:
            json.dump(facts, handle)
        return
    facts.update(collect(root, only_app))
    with open(output, "w", encoding="utf-8") as handle:
        json.dump(facts, handle, default=str)


def collect(root: str, only_app: str = "") -> dict[str, Any]:
    """The facts of a Django that is set up: its first-party apps under `root` (or `only_app`), APIs, routes."""
    facts: dict[str, Any] = {"problems": []}
    try:
        import ninja

        facts["ninja"] = ninja.__version__
    except ImportError:
        facts["ninja"] = None
    from django.apps import apps

    roots = [os.path.realpath(path) for path in only_app.split(os.pathsep) if path] or [root]
    first_party = [app for app in apps.get_app_configs() if _inside(app.path, roots)]
    facts["apps"] = [
        {"label": app.label, "name": app.name, "path": app.path, "models": _models(app)} for app in first_party
    ]
    app_modules = [
        f"{app.name}.{name}"
        for app in first_party
        for name in CANDIDATE_MODULES
        if os.path.exists(os.path.join(app.path, f"{name}.py")) or os.path.isdir(os.path.join(app.path, name))
    ]
    facts["apis"] = _apis(roots, app_modules, facts["problems"])
    facts["drf_routes"] = _drf_routes(facts["problems"], roots)
    return json.loads(json.dumps(facts, default=str))  # type: ignore[no-any-return]


if __name__ == "__main__":
    main()
