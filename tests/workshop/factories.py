"""Test data of the workshop board: workshops, learners and their gradings."""

import uuid
from datetime import UTC, datetime
from typing import Any

import factory
from django.utils import timezone

from dojo.workshop import services
from dojo.workshop.models import Grading, Learner, Workshop


class WorkshopFactory(factory.django.DjangoModelFactory[Workshop]):
    class Meta:
        model = Workshop

    title = factory.Sequence(lambda n: f"Onboarding {n}")
    join_code = factory.Sequence(lambda n: f"CODE{n:04d}")
    lead_token_hash = factory.LazyAttribute(lambda o: services.digest(f"lead-{o.join_code}"))
    stuck_minutes = 10


class LearnerFactory(factory.django.DjangoModelFactory[Learner]):
    class Meta:
        model = Learner

    workshop = factory.SubFactory(WorkshopFactory)
    name = factory.Sequence(lambda n: f"learner {n}")
    token_hash = factory.LazyAttribute(lambda o: services.digest(f"token-{o.name}-{uuid.uuid4().hex}"))


class GradingFactory(factory.django.DjangoModelFactory[Grading]):
    class Meta:
        model = Grading

    learner = factory.SubFactory(LearnerFactory)
    grading_id = factory.LazyFunction(lambda: uuid.uuid4().hex)
    kata = "n_plus_one"
    status = Grading.Status.FAILING
    passed = 10
    failed = 2
    failing: Any = factory.LazyFunction(lambda: [{"check": "test_query_count_is_within_budget", "rule": "PERF-2"}])
    attempt = 1
    graded_at = factory.LazyFunction(timezone.now)
    received_at = factory.LazyFunction(timezone.now)
    body_hash = "0" * 64


def lead_token(workshop: Workshop) -> str:
    """The lead token of a workshop made by WorkshopFactory."""
    return f"lead-{workshop.join_code}"


def moment(minute: int) -> datetime:
    return datetime(2026, 12, 6, 10, minute, tzinfo=UTC)
