"""Every route of the board under generated requests (schemathesis, from its own OpenAPI document): never a
500, and every error in the one envelope."""

import json
from collections.abc import Iterator
from typing import Any, cast

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import override_settings
from hypothesis import HealthCheck, given, settings
from schemathesis.core.result import Ok

from dojo.workshop.api import api
from dojo.workshop.services import digest

from .factories import GradingFactory, LearnerFactory, WorkshopFactory, lead_token

pytestmark = [pytest.mark.django_db, pytest.mark.urls("dojo.workshop.urls")]

ENVELOPE = {"code", "message", "details"}
EXAMPLES = 25


def operations() -> list[Any]:
    with override_settings(ROOT_URLCONF="dojo.workshop.urls"):
        document = api.get_openapi_schema()
    # the board's own schema: every operation is valid, an Err (which has no ok()) fails here as it always did
    return [cast(Ok[Any], result).ok() for result in schemathesis.openapi.from_dict(document).get_all_operations()]


OPERATIONS = operations()


@pytest.fixture(autouse=True)
def connection_kept() -> Iterator[None]:
    """As Django's test client does: a request must not close the connection that holds the test's
    transaction (on PostgreSQL it would, the connection not being in autocommit mode)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda operation: f"{operation.method.upper()} {operation.path}")
def test_every_route_answers_below_500_and_every_error_in_the_envelope(operation: Any) -> None:
    workshop = WorkshopFactory.create(join_code="ABC234")
    learner = LearnerFactory.create(workshop=workshop, token_hash=digest("learner-token"))
    GradingFactory.create_batch(3, learner=learner)
    learner_route = operation.path.endswith("/gradings") and operation.method.lower() == "post"
    token = "learner-token" if learner_route else lead_token(workshop)
    app = get_wsgi_application()
    problems: list[str] = []

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES, derandomize=True, database=None, deadline=None, suppress_health_check=list(HealthCheck)
    )
    def send(case: Any) -> None:
        response = case.call(app=app, headers={"Authorization": f"Bearer {token}"})
        shown = f"{case.method} {case.formatted_path} {case.body!r:.80}"
        if response.status_code >= 500:
            problems.append(f"{response.status_code}: {shown}")
        elif response.status_code >= 400:
            body = json.loads(response.content)
            if set(body) != ENVELOPE:
                problems.append(f"{response.status_code} out of the envelope: {shown}: {body}")

    send()

    assert problems == []
