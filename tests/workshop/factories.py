# factory_boy's declarations (Sequence, SubFactory, ...) have no type hints: PY-2's Any at a boundary.
# mypy: disable-error-code="no-untyped-call"
"""Test data of the workshop board: workshops, learners and their gradings."""

import uuid
from datetime import UTC, datetime
from typing import Any

from django.utils import timezone
from factory.declarations import LazyAttribute, LazyFunction, Sequence, SubFactory
from factory.django import DjangoModelFactory

from dojo.workshop import services
from dojo.workshop.models import Grading, Learner, Workshop


class WorkshopFactory(DjangoModelFactory[Workshop]):
    class Meta:
        model = Workshop

    title = Sequence(lambda n: f"Onboarding {n}")
    join_code = Sequence(lambda n: f"CODE{n:04d}")
    lead_token_hash = LazyAttribute(lambda o: services.digest(f"lead-{o.join_code}"))
    stuck_minutes = 10


class LearnerFactory(DjangoModelFactory[Learner]):
    class Meta:
        model = Learner

    workshop = SubFactory(WorkshopFactory)
    name = Sequence(lambda n: f"learner {n}")
    token_hash = LazyAttribute(lambda o: services.digest(f"token-{o.name}-{uuid.uuid4().hex}"))


class GradingFactory(DjangoModelFactory[Grading]):
    class Meta:
        model = Grading

    learner = SubFactory(LearnerFactory)
    grading_id = LazyFunction(lambda: uuid.uuid4().hex)
    kata = "n_plus_one"
    status = Grading.Status.FAILING
    passed = 10
    failed = 2
    failing: Any = LazyFunction(lambda: [{"check": "test_query_count_is_within_budget", "rule": "PERF-2"}])
    attempt = 1
    graded_at = LazyFunction(timezone.now)
    received_at = LazyFunction(timezone.now)
    body_hash = "0" * 64


def lead_token(workshop: Workshop) -> str:
    """The lead token of a workshop made by WorkshopFactory."""
    return f"lead-{workshop.join_code}"


def moment(minute: int) -> datetime:
    return datetime(2026, 12, 6, 10, minute, tzinfo=UTC)
