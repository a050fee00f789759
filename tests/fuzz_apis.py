"""Fuzz every kata API of the graded tree with schemathesis, in-process; run by `tests/test_fuzz.py`.

Not collected on its own (its name is not `test_*.py`): `tests/test_fuzz.py` runs it in a pytest
process of its own, with `DOJO_KATA_ROOT` on `solutions/`, because the app labels are the kata slugs
in every tree. Each kata with an `api.py` gets one check. Every generated request, valid by the
kata's OpenAPI schema or not, must answer below 500, leave no row that breaks a constraint at commit,
and, when it is an error, answer the one envelope of `dojo/api_errors.py`: `code`, `message`, `details`.
The findings are written as JSON to `DOJO_FUZZ_REPORT`, one entry per kata.
"""

import importlib
import json
import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import respx
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import DatabaseError, close_old_connections, connection, transaction
from django.test import override_settings
from hypothesis import HealthCheck, settings
from schemathesis.core import NOT_SET

from dojo import paths

#: examples per operation and per kind (valid, invalid): small and seeded, so that the run is bounded
EXAMPLES = int(os.environ.get("DOJO_FUZZ_EXAMPLES", "15"))
ENVELOPE_KEYS = {"code", "message", "details"}
BEYOND_ANY_DATABASE = 2**64


def kata_apis() -> list[str]:
    """The katas whose graded tree has an `api.py`."""
    root = Path(os.environ.get("DOJO_KATA_ROOT", paths.SOLUTIONS))
    return sorted(path.parent.name for path in root.glob("*/api.py"))


@dataclass
class Findings:
    """What the fuzzing of one kata's API found, by kind; the first few examples of each."""

    requests: int = 0
    examples: dict[str, list[str]] = field(default_factory=dict)

    def add(self, kind: str, example: str) -> None:
        self.examples.setdefault(kind, [])
        if len(self.examples[kind]) < 5:
            self.examples[kind].append(example)

    def as_json(self) -> dict[str, Any]:
        return {"requests": self.requests, "problems": self.examples}


def _seed(slug: str) -> dict[str, str]:
    """A few rows of each of the kata's models (ids 1, 2…), and the headers of a caller who may do anything."""
    factories = importlib.import_module(f"graders.{slug}.factories")
    made: dict[str, list[Any]] = {}
    for name in dir(factories):
        factory = getattr(factories, name)
        meta = getattr(factory, "_meta", None)
        if (
            name.endswith("Factory")
            and (model := getattr(meta, "model", None)) is not None
            and model.__module__.startswith(slug)
        ):
            made[name] = factory.create_batch(2)
    credentials: dict[str, Callable[[], dict[str, str]]] = {
        "error_envelope": lambda: {"X-API-Key": made["ApiKeyFactory"][0].key},
        "service_authorization": lambda: {"X-User-Id": str(made["MemberFactory"][0].pk)},
    }
    if slug == "error_envelope":
        api_key = made["ApiKeyFactory"][0]
        api_key.can_write = True
        api_key.save()
    return credentials[slug]() if slug in credentials else {}


def _outside_services(slug: str) -> AbstractContextManager[object]:
    """The kata's third parties, answering as they do on a good day: nothing leaves the machine."""
    if slug != "injectable_client":
        return nullcontext()
    router = respx.mock(assert_all_called=False)
    router.get(url__regex=r"/v1/suppressions/").respond(404)
    router.post(url__regex=r"/v1/emails$").respond(200, json={"id": "msg_fuzz"})
    return router


def _envelope_problem(status: int, body: bytes) -> str | None:
    try:
        document = json.loads(body)
    except ValueError:
        return f"{status} is not JSON: {body[:80]!r}"
    if not isinstance(document, dict) or set(document) != ENVELOPE_KEYS:
        keys = sorted(document) if isinstance(document, dict) else type(document).__name__
        return f"{status} has the keys {keys}"
    details = document["details"]
    if not isinstance(details, list) or not all(
        isinstance(d, dict) and set(d) == {"field", "message"} for d in details
    ):
        return f"{status} has details {details!r:.80}"
    return None


class _RolledBackError(Exception):
    """Leaves the atomic block of one request, undoing whatever the request wrote."""


def _with_database_limits(node: object) -> None:
    """An integer the schema leaves unbounded gets the bound of no database, 2**64, in place.

    Schemathesis's coverage phase tries the values at and past a schema's bounds: with this one it sends
    integers beyond 64 bits, which a column cannot hold, where it would otherwise stay small.
    """
    if isinstance(node, dict):
        if node.get("type") == "integer" and "maximum" not in node and "exclusiveMaximum" not in node:
            node["maximum"] = BEYOND_ANY_DATABASE
        for value in node.values():
            _with_database_limits(value)
    elif isinstance(node, list):
        for value in node:
            _with_database_limits(value)


def _schema(slug: str) -> schemathesis.BaseSchema:
    """The kata's OpenAPI document, as its NinjaAPI describes itself (URLs reversed in its own URLconf)."""
    with override_settings(ROOT_URLCONF=f"{slug}.api"):
        document = importlib.import_module(f"{slug}.api").api.get_openapi_schema()
    _with_database_limits(document)
    return schemathesis.openapi.from_dict(document)


FINDINGS: dict[str, Findings] = {}


@pytest.fixture
def caller(request: pytest.FixtureRequest, db: None) -> Iterator[tuple[str, dict[str, str]]]:
    """The kata under test, its URLconf, a few rows, the headers of a caller who may do anything."""
    slug = request.node.originalname.removeprefix("test_")
    # as Django's test client does: a request must not close the connection that holds the test's
    # transaction (on PostgreSQL it would, the connection not being in autocommit mode)
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        with override_settings(ROOT_URLCONF=f"{slug}.api"), _outside_services(slug):
            yield slug, _seed(slug)
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    report = Path(os.environ["DOJO_FUZZ_REPORT"]) / f"{slug}.json"
    report.write_text(json.dumps(FINDINGS[slug].as_json(), indent=2), encoding="utf-8")


def send(slug: str, case: schemathesis.Case[Any], headers: dict[str, str]) -> None:
    """One request, in-process through Django's WSGI handler; what is wrong with its answer is recorded."""
    findings = FINDINGS.setdefault(slug, Findings())
    body = "" if case.body is NOT_SET else f" body={case.body!r:.80}"
    shown = f"{case.method} {case.formatted_path} query={case.query!r:.60}{body}"
    findings.requests += 1
    # each request in an atomic block rolled back afterwards: a failed statement cannot poison the next
    try:
        with transaction.atomic():
            response = case.call(app=WSGI_APP, headers=headers)
            if response.status_code < 500 and not connection.needs_rollback:
                try:
                    connection.check_constraints()  # what the commit would do with the deferred constraints
                except DatabaseError as error:
                    findings.add("a row that fails at commit (500)", f"{shown}: {error}")
            raise _RolledBackError
    except _RolledBackError:
        pass
    if response.status_code >= 500:
        findings.add(f"{response.status_code}", f"{shown}: {response.content[:120]!r}")
    elif response.status_code >= 400:
        problem = _envelope_problem(response.status_code, response.content)
        if problem:
            findings.add("another error shape", f"{shown}: {problem}")


WSGI_APP = get_wsgi_application()
FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    derandomize=True,  # seeded: the same requests on every run
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)


def _test_for(slug: str) -> Callable[..., None]:
    def fuzz(case: schemathesis.Case[Any], caller: tuple[str, dict[str, str]]) -> None:
        send(caller[0], case, caller[1])

    fuzz.__name__ = f"test_{slug}"
    test: Callable[..., None] = _schema(slug).parametrize()(FUZZ_SETTINGS(fuzz))
    return test


for _slug in kata_apis():
    globals()[f"test_{_slug}"] = _test_for(_slug)
