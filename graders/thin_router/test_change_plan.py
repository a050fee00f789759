"""Grader of `thin_router`: the plan change is a service, the route only parses, calls and returns, save() saves."""

import ast
import inspect
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.core.mail import EmailMessage
from django.db.models.signals import post_save
from django.http import HttpResponse
from django.test import Client

from dojo.grading import check
from thin_router import api, services
from thin_router.models import Invoice, Plan, Subscription

from .factories import PlanFactory, SubscriptionFactory
from .fakes import FakeEmailClient, kata_origin

pytestmark = [pytest.mark.django_db, pytest.mark.urls("thin_router.api")]

# pytest-django's fixture: runs transaction.on_commit() callbacks, which a test's transaction never commits
CaptureCallbacks = Callable[..., AbstractContextManager[list[Callable[[], object]]]]

MID_PERIOD = datetime(2026, 3, 16, tzinfo=UTC)  # 15 of the period's 30 days are left
PRORATED_UPGRADE_CENTS = 3_500  # half of the 70.00 a month between Basic and Pro

# What a route function may be: a few statements that parse, call one service and return.
MAX_ROUTE_STATEMENTS = 4
ROUTE_DECORATORS = {"get", "post", "put", "patch", "delete", "api_operation"}
BUSINESS_ATTRIBUTES = {"objects", "save", "create", "update", "delete", "select_for_update", "atomic", "send"}
BUSINESS_NAMES = {"transaction", "get_object_or_404", "get_list_or_404"}


def basic_and_pro() -> tuple[Plan, Plan]:
    return (
        PlanFactory(code="basic", name="Basic", monthly_price_cents=2_900),
        PlanFactory(code="pro", name="Pro", monthly_price_cents=9_900),
    )


def request_change(client: Client, on_commit: CaptureCallbacks, subscription_id: int, plan: str) -> HttpResponse:
    with on_commit(execute=True), time_machine.travel(MID_PERIOD, tick=False):
        return client.post(
            f"/api/v1/subscriptions/{subscription_id}/change-plan", {"plan": plan}, content_type="application/json"
        )


def change_plan_service() -> Callable[..., Any]:
    change_plan = getattr(services, "change_plan", None)
    check(
        callable(change_plan),
        "services.py has no change_plan(): the plan change can only be reached through HTTP. That is why "
        "the bulk migration for sales had to copy it, and lost the downgrade check on the way. Move the "
        "checks, the proration, the writes and the email into "
        "services.change_plan(subscription_id, plan_code, *, emails), and let the route call it.",
    )
    assert change_plan is not None
    return change_plan


@contextmanager
def invoice_writes_recorded() -> Iterator[list[str]]:
    """Where in the kata each invoice row is written from."""
    origins: list[str] = []

    def record(**kwargs: object) -> None:
        origins.append(kata_origin("thin_router"))

    post_save.connect(record, sender=Invoice, weak=False, dispatch_uid="grader-invoice-writes")
    try:
        yield origins
    finally:
        post_save.disconnect(sender=Invoice, dispatch_uid="grader-invoice-writes")


def is_route(function: ast.FunctionDef) -> bool:
    return any(
        isinstance(decorator, ast.Call)
        and isinstance(decorator.func, ast.Attribute)
        and decorator.func.attr in ROUTE_DECORATORS
        for decorator in function.decorator_list
    )


def route_problem(route: ast.FunctionDef) -> str | None:
    """Why a route function is not thin, or None."""
    body = route.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # the docstring
    nodes = [node for statement in body for node in ast.walk(statement)]
    statements = sum(isinstance(node, ast.stmt) for node in nodes)
    used = {f".{node.attr}" for node in nodes if isinstance(node, ast.Attribute) and node.attr in BUSINESS_ATTRIBUTES}
    used |= {node.id for node in nodes if isinstance(node, ast.Name) and node.id in BUSINESS_NAMES}
    reasons = []
    if statements > MAX_ROUTE_STATEMENTS:
        reasons.append(f"{statements} statements")
    if used:
        reasons.append(f"uses {', '.join(sorted(used))}")
    return f"  {route.name}() at api.py line {route.lineno}: {'; '.join(reasons)}" if reasons else None


# --- what the API does: unchanged ---


def test_an_upgrade_invoices_the_prorated_difference_and_tells_the_customer(
    client: Client, mailoutbox: list[EmailMessage], django_capture_on_commit_callbacks: CaptureCallbacks
) -> None:
    basic, pro = basic_and_pro()
    subscription = SubscriptionFactory(plan=basic)

    response = request_change(client, django_capture_on_commit_callbacks, subscription.pk, "pro")

    assert response.status_code == 200, response.content
    period_end = "2026-03-31T00:00:00Z"
    assert response.json() == {
        "subscription": {"id": subscription.pk, "plan": "pro", "status": "active", "current_period_end": period_end},
        "prorated_charge_cents": PRORATED_UPGRADE_CENTS,
    }
    subscription.refresh_from_db()
    assert subscription.plan == pro
    assert list(Invoice.objects.values_list("subscription_id", "description", "amount_cents")) == [
        (subscription.pk, "Upgrade to Pro, prorated", PRORATED_UPGRADE_CENTS)
    ]
    assert [(mail.to, mail.subject, mail.body) for mail in mailoutbox] == [
        ([subscription.customer.email], "Your plan is now Pro", "Your subscription has moved to the Pro plan.")
    ]


@pytest.mark.parametrize(
    ("case", "plan", "status"),
    [
        ("unknown plan", "enterprise", 404),
        ("inactive plan", "legacy", 404),
        ("same plan", "basic", 409),
        ("downgrade", "free", 409),
        ("canceled subscription", "pro", 409),
        ("unknown subscription", "pro", 404),
    ],
    ids=["unknown_plan", "inactive_plan", "same_plan", "downgrade", "canceled", "unknown_subscription"],
)
def test_refused_plan_changes_change_nothing(
    client: Client,
    mailoutbox: list[EmailMessage],
    django_capture_on_commit_callbacks: CaptureCallbacks,
    case: str,
    plan: str,
    status: int,
) -> None:
    basic, _pro = basic_and_pro()
    PlanFactory(code="legacy", is_active=False, monthly_price_cents=19_900)
    PlanFactory(code="free", monthly_price_cents=0)
    canceled = case == "canceled subscription"
    subscription = SubscriptionFactory(
        plan=basic, status=Subscription.Status.CANCELED if canceled else Subscription.Status.ACTIVE
    )

    subscription_id = 999_999 if case == "unknown subscription" else subscription.pk
    response = request_change(client, django_capture_on_commit_callbacks, subscription_id, plan)

    assert response.status_code == status, f"A change refused for the {case} must answer {status}."
    assert response.json().get("detail"), "The refusal says why, in `detail`."
    subscription.refresh_from_db()
    assert (subscription.plan, Invoice.objects.count(), len(mailoutbox)) == (basic, 0, 0)


def test_a_subscription_is_read(client: Client) -> None:
    subscription = SubscriptionFactory(plan=PlanFactory(code="basic"))

    response = client.get(f"/api/v1/subscriptions/{subscription.pk}")

    assert (response.status_code, response.json()["plan"]) == (200, "basic")
    assert client.get("/api/v1/subscriptions/999999").status_code == 404


# --- where the logic lives ---


@pytest.mark.lesson("ARCH-2")
def test_the_plan_change_is_a_service_with_an_injected_email_client(
    emails: FakeEmailClient, mailoutbox: list[EmailMessage], django_capture_on_commit_callbacks: CaptureCallbacks
) -> None:
    change_plan = change_plan_service()
    basic, pro = basic_and_pro()
    subscription = SubscriptionFactory(plan=basic)

    with django_capture_on_commit_callbacks(execute=True), time_machine.travel(MID_PERIOD, tick=False):
        change_plan(subscription.pk, "pro", emails=emails)

    subscription.refresh_from_db()
    amounts = list(Invoice.objects.values_list("amount_cents", flat=True))
    check(
        subscription.plan == pro and amounts == [PRORATED_UPGRADE_CENTS],
        f"services.change_plan(subscription_id, 'pro', emails=...) halfway through the period left the "
        f"subscription on {subscription.plan.code!r} with invoices of {amounts} cents; the route moves it "
        f"to 'pro' and invoices {PRORATED_UPGRADE_CENTS} cents. The service does all of it, without HTTP.",
    )
    check(
        [(mail.to, mail.subject) for mail in emails.sent] == [(subscription.customer.email, "Your plan is now Pro")]
        and not mailoutbox,
        f"The customer must get one email, through the client passed as `emails`: that client sent "
        f"{len(emails.sent)}, and {len(mailoutbox)} went out another way (a client the code made itself). "
        "A service that is given its email client can be called with a fake in a test, and with the real "
        "one by the route, the admin and a management command.",
    )


@pytest.mark.lesson("ARCH-1")
def test_route_functions_only_parse_call_and_return() -> None:
    source = Path(inspect.getsourcefile(api) or "").read_text(encoding="utf-8")
    routes = [node for node in ast.parse(source).body if isinstance(node, ast.FunctionDef) and is_route(node)]
    assert routes, "api.py has no route functions any more."

    problems = [problem for route in routes if (problem := route_problem(route))]

    check(
        not problems,
        "These route functions do more than handle HTTP:\n"
        + "\n".join(problems)
        + "\nA route parses the request, calls one service and returns its result. The checks, the "
        "transaction, the writes and the email belong to the service, where the admin, a management "
        "command or a queue consumer can reach them too.\nHow this is checked: the grader reads api.py. "
        f"A function decorated as a route may have at most {MAX_ROUTE_STATEMENTS} statements, and may not "
        "use .objects, .save(), .create(), transaction, get_object_or_404() or a client's .send(). "
        "Exception handlers are not routes: turning a domain exception into a 404 or 409 belongs there.",
    )


@pytest.mark.lesson("ARCH-3")
def test_saving_a_subscription_sends_no_email(
    mailoutbox: list[EmailMessage], django_capture_on_commit_callbacks: CaptureCallbacks
) -> None:
    basic, pro = basic_and_pro()
    subscription = Subscription.objects.get(pk=SubscriptionFactory(plan=basic).pk)

    with django_capture_on_commit_callbacks(execute=True):
        subscription.plan = pro  # e.g. support fixing a plan in the admin
        subscription.save()
        subscription.current_period_end += timedelta(days=1)  # e.g. a data fix
        subscription.save()

    check(
        not mailoutbox,
        f"Saving a subscription sent {len(mailoutbox)} email(s): {[mail.subject for mail in mailoutbox]}. "
        "Every caller of save() sends it, the admin, a data fix, a migration, whether it means to or not, "
        "and from inside whatever transaction it is in. Let save() only save, and send the email from "
        "the service that changes the plan, where whoever calls it can see it.",
    )


@pytest.mark.lesson("ARCH-3")
def test_the_service_not_the_model_writes_and_sends(
    emails: FakeEmailClient, django_capture_on_commit_callbacks: CaptureCallbacks
) -> None:
    change_plan = change_plan_service()
    basic, _pro = basic_and_pro()
    subscription = SubscriptionFactory(plan=basic)

    with (
        invoice_writes_recorded() as invoice_writes,
        django_capture_on_commit_callbacks(execute=True),
        time_machine.travel(MID_PERIOD, tick=False),
    ):
        change_plan(subscription.pk, "pro", emails=emails)

    origins = [f"the email was sent from {mail.sent_from}" for mail in emails.sent]
    origins += [f"the invoice was written from {origin}" for origin in invoice_writes]
    from_models = [origin for origin in origins if " models.py," in origin]
    check(
        origins and not from_models,
        f"In services.change_plan(), {'; '.join(from_models)}. The model orchestrates: it writes another "
        "model's rows and calls the email provider, so every caller of that method gets these effects, "
        "and a test of the model needs a database and fakes. Keep the small rules about the model's own "
        "data in the model (like fraction_of_period_left()), and the writes and side effects in the service.",
    )
