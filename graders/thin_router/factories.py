# factory_boy's declarations (Sequence, SubFactory, ...) have no type hints: PY-2's Any at a boundary.
# mypy: disable-error-code="no-untyped-call"
from datetime import UTC, datetime

from factory.declarations import Sequence, SubFactory
from factory.django import DjangoModelFactory

from thin_router.models import Customer, Plan, Subscription


class CustomerFactory(DjangoModelFactory[Customer]):
    class Meta:
        model = Customer

    name = Sequence(lambda n: f"Customer {n}")
    email = Sequence(lambda n: f"owner{n}@customer.test")


class PlanFactory(DjangoModelFactory[Plan]):
    class Meta:
        model = Plan

    code = Sequence(lambda n: f"plan-{n}")
    name = Sequence(lambda n: f"Plan {n}")
    monthly_price_cents = 2_900


class SubscriptionFactory(DjangoModelFactory[Subscription]):
    class Meta:
        model = Subscription

    customer = SubFactory(CustomerFactory)
    plan = SubFactory(PlanFactory)
    current_period_start = datetime(2026, 3, 1, tzinfo=UTC)
    current_period_end = datetime(2026, 3, 31, tzinfo=UTC)
