"""Grader of `thin_router`: the plan change is a service, the route only parses, calls and returns, save() saves."""

import ast
import inspect
import os
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from types import FrameType, ModuleType
from typing import TYPE_CHECKING, Any

import pytest
import time_machine
from django.core import mail
from django.core.mail import EmailMessage
from django.db import DatabaseError, IntegrityError, OperationalError, connection, transaction
from django.db.models import Model
from django.test import Client
from hypothesis import assume, example, given
from hypothesis import strategies as st

from dojo.grading import check, read_source, shown
from dojo.races import Interleave, interleaved, race
from dojo.scenarios import reference, rolled_back, scenarios
from thin_router import api, services
from thin_router.models import Invoice, Plan, Subscription

from .factories import PlanFactory, SubscriptionFactory
from .fakes import FakeEmailClient, kata_origin

if TYPE_CHECKING:  # what django.test.Client answers: an HttpResponse with .json(), a type of django-stubs only
    from django.test.client import _MonkeyPatchedWSGIResponse as TestResponse

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.urls("thin_router.api"),
    # a learner's deprecated but working call (e.g. Ninja's `return 200, obj`) is reported, not failed
    pytest.mark.filterwarnings("default::DeprecationWarning"),
]

# pytest-django's fixture: runs transaction.on_commit() callbacks, which a test's transaction never commits
CaptureCallbacks = Callable[..., AbstractContextManager[list[Callable[[], object]]]]

MID_PERIOD = datetime(2026, 3, 16, tzinfo=UTC)  # 15 of the period's 30 days are left
PRORATED_UPGRADE_CENTS = 3_500  # half of the 70.00 a month between Basic and Pro
# the service is graded at another moment than the API, so that no figure can be hard-coded
LATE_IN_PERIOD = datetime(2026, 3, 24, 12, tzinfo=UTC)  # 6.5 of 30 days are left
LATE_UPGRADE_CENTS = 1_517  # 7,000 x 6.5 / 30 = 1,516.67

# What a route function may be: a few statements that parse, call one service and return.
MAX_ROUTE_STATEMENTS = 4
ROUTE_DECORATORS = {"get", "post", "put", "patch", "delete", "api_operation"}
# what only business code does: query, write, open a transaction, send. Nowhere in api.py but in an
# exception handler (which turns a domain exception into an answer, and may use none of these either)
BUSINESS_ATTRIBUTES = {
    "objects",
    "_default_manager",
    "_base_manager",
    "filter",
    "exclude",
    "save",
    "create",
    "get_or_create",
    "update_or_create",
    "bulk_create",
    "bulk_update",
    "update",
    "delete",
    "select_for_update",
    "raw",
    "execute",
    "atomic",
    "on_commit",
    "send",
    "send_mail",
}
BUSINESS_NAMES = {"transaction", "connection", "connections", "get_object_or_404", "get_list_or_404", "send_mail"}


def basic_and_pro() -> tuple[Plan, Plan]:
    return (
        PlanFactory.create(code="basic", name="Basic", monthly_price_cents=2_900),
        PlanFactory.create(code="pro", name="Pro", monthly_price_cents=9_900),
    )


def request_change(client: Client, on_commit: CaptureCallbacks, subscription_id: int, plan: str) -> "TestResponse":
    with on_commit(execute=True), time_machine.travel(MID_PERIOD, tick=False):
        return client.post(
            f"/api/v1/subscriptions/{subscription_id}/change-plan", {"plan": plan}, content_type="application/json"
        )


def change_plan_service() -> Callable[..., Any]:
    change_plan: Callable[..., Any] | None = getattr(services, "change_plan", None)
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
def fails_once_when_written(model: type[Model], error: Exception) -> Iterator[None]:
    """The first INSERT or UPDATE of `model`'s table raises `error`, once, right after the database ran it.

    The failure is the database's, seen below the ORM: it does not depend on the call the code makes
    (save(), create(), QuerySet.update(), bulk_create()), nor on signals that some of them skip.
    """
    table = re.escape(model._meta.db_table)
    write = re.compile(rf'^\s*(INSERT\s+INTO|UPDATE)\s+"?{table}"?[\s(]', re.IGNORECASE)
    failures = [error]

    # Django's execute-wrapper protocol: untyped parameters and results, passed through as they are
    def fail(
        execute: Callable[..., object], sql: str, params: object, many: bool, context: dict[str, object]
    ) -> object:
        result = execute(sql, params, many, context)
        if failures and write.match(sql):
            raise failures.pop()
        return result

    with connection.execute_wrapper(fail):
        yield


@contextmanager
def invoice_writes_recorded() -> Iterator[list[str]]:
    """Where in the kata each invoice row is written from."""
    origins: list[str] = []
    insert = re.compile(rf'^\s*INSERT\s+INTO\s+"?{re.escape(Invoice._meta.db_table)}"?[\s(]', re.IGNORECASE)

    # Django's execute-wrapper protocol: untyped parameters and results, passed through as they are
    def record(
        execute: Callable[..., object], sql: str, params: object, many: bool, context: dict[str, object]
    ) -> object:
        if insert.match(sql):  # whichever ORM call wrote it: create(), save(), bulk_create()
            origins.append(kata_origin("thin_router"))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        yield origins


@dataclass
class RouteRun:
    """One run of a route function: the request that reached it, and what it called beyond HTTP."""

    request: str
    route: str
    calls: list[str] = field(default_factory=list)  # functions of the kata's other modules it called
    queries: list[str] = field(default_factory=list)  # statements it ran itself (the ORM, a transaction)


def route_frame(frame: FrameType | None, api_file: str) -> FrameType | None:
    """The frame of the route function when `frame` runs api.py code under a route (the route itself,
    or a helper of api.py that it called), else None. A route is the function Ninja's operation calls."""
    while frame is not None and frame.f_code.co_filename == api_file:
        caller = frame.f_back
        if caller is not None and caller.f_globals.get("__name__") == "ninja.operation":
            return frame
        frame = caller
    return None


@contextmanager
def route_calls_recorded(request: list[str]) -> Iterator[list[RouteRun]]:
    """Each route function run meanwhile, with the kata functions it called and the statements it ran.

    A call counts when api.py code under a route calls a function of another module of the kata
    (services.py, a helper module, models.py, clients.py), whatever its name; building an object
    (`__init__`) is wiring, not a call. A statement counts when the innermost kata code running it is
    api.py under a route: the ORM, a transaction or raw SQL used by the route itself. `request` holds
    the request being made, to name it in the record.
    """
    api_file = inspect.getsourcefile(api) or ""
    kata_dir = str(Path(api_file).parent) + os.sep
    runs: list[RouteRun] = []
    run_of: dict[FrameType, RouteRun] = {}
    wiring = {"__init__", "__new__", "__post_init__"}

    def profile(frame: FrameType, event: str, arg: object) -> None:
        if event != "call":
            return
        code = frame.f_code
        if code.co_filename == api_file:
            if route_frame(frame, api_file) is frame:
                run_of[frame] = RouteRun(request[-1] if request else "a request", code.co_qualname)
                runs.append(run_of[frame])
            return
        if code.co_filename.startswith(kata_dir) and code.co_name not in wiring:
            route = route_frame(frame.f_back, api_file)
            run = run_of.get(route) if route is not None else None
            if run is not None:
                run.calls.append(f"{Path(code.co_filename).relative_to(kata_dir)} {code.co_qualname}()")

    # Django's execute-wrapper protocol: untyped parameters and results, passed through as they are
    def record(
        execute: Callable[..., object], sql: str, params: object, many: bool, context: dict[str, object]
    ) -> object:
        frame = inspect.currentframe()
        while frame is not None and not frame.f_code.co_filename.startswith(kata_dir):
            frame = frame.f_back
        route = route_frame(frame, api_file)
        run = run_of.get(route) if route is not None else None
        if run is not None:
            run.queries.append(" ".join(sql.split())[:120])
        return execute(sql, params, many, context)

    previous = sys.getprofile()
    sys.setprofile(profile)
    try:
        with connection.execute_wrapper(record):
            yield runs
    finally:
        sys.setprofile(previous)


def decorated_with(function: ast.FunctionDef | ast.AsyncFunctionDef, names: set[str]) -> bool:
    """True when a decorator is a call of an attribute in `names`, e.g. `@router.post(...)`."""
    return any(
        isinstance(decorator, ast.Call) and isinstance(decorator.func, ast.Attribute) and decorator.func.attr in names
        for decorator in function.decorator_list
    )


def business_used(nodes: list[ast.AST]) -> set[str]:
    used = {f".{node.attr}" for node in nodes if isinstance(node, ast.Attribute) and node.attr in BUSINESS_ATTRIBUTES}
    return used | {node.id for node in nodes if isinstance(node, ast.Name) and node.id in BUSINESS_NAMES}


def route_problem(route: ast.FunctionDef | ast.AsyncFunctionDef) -> str | None:
    """Why a route function is not thin, or None."""
    body = route.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # the docstring
    nodes = [node for statement in body for node in ast.walk(statement)]
    statements = sum(isinstance(node, ast.stmt) for node in nodes)
    used = business_used(nodes)
    reasons = []
    if statements > MAX_ROUTE_STATEMENTS:
        reasons.append(f"{statements} statements")
    if used:
        reasons.append(f"uses {', '.join(sorted(used))}")
    return f"  {route.name}() at api.py line {route.lineno}: {'; '.join(reasons)}" if reasons else None


def api_problems(tree: ast.Module) -> tuple[int, list[str]]:
    """How many routes api.py has, and what in it does more than handle HTTP.

    Routes may have a few statements and no business code; the rest of the module (helpers, classes,
    module-level names) no business code at all, so that moving the work into a helper of api.py, or
    aliasing a manager at module level, is seen as well.
    """
    routes, problems = 0, []
    for statement in tree.body:
        if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef):
            if decorated_with(statement, {"exception_handler"}):
                continue
            if decorated_with(statement, ROUTE_DECORATORS):
                routes += 1
                if problem := route_problem(statement):
                    problems.append(problem)
                continue
        if used := business_used(list(ast.walk(statement))):
            what = getattr(statement, "name", None)
            where = (
                f"{what}()"
                if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef)
                else (f"class {what}" if what else "module-level code")
            )
            problems.append(f"  {where} at api.py line {statement.lineno}: uses {', '.join(sorted(used))}")
    return routes, problems


def envelope(response: "TestResponse") -> dict[str, Any]:
    """The error body, checked to be in the one error shape of our APIs (dojo/api_errors.py)."""
    body: dict[str, Any] = response.json()
    assert set(body) == {"code", "message", "details"}, f"every error answers {{code, message, details}}: {body}"
    return body


# --- what the API does: unchanged ---


@pytest.mark.contract(1)
def test_an_upgrade_invoices_the_prorated_difference_and_tells_the_customer(
    client: Client, mailoutbox: list[EmailMessage], django_capture_on_commit_callbacks: CaptureCallbacks
) -> None:
    basic, pro = basic_and_pro()
    subscription = SubscriptionFactory.create(plan=basic)

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


@pytest.mark.contract(2)
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
    PlanFactory.create(code="legacy", is_active=False, monthly_price_cents=19_900)
    PlanFactory.create(code="free", monthly_price_cents=0)
    canceled = case == "canceled subscription"
    subscription = SubscriptionFactory.create(
        plan=basic, status=Subscription.Status.CANCELED if canceled else Subscription.Status.ACTIVE
    )

    subscription_id = 999_999 if case == "unknown subscription" else subscription.pk
    response = request_change(client, django_capture_on_commit_callbacks, subscription_id, plan)

    assert response.status_code == status, f"A change refused for the {case} must answer {status}."
    assert envelope(response)["message"], "The refusal says why, in `message`."
    subscription.refresh_from_db()
    assert (subscription.plan, Invoice.objects.count(), len(mailoutbox)) == (basic, 0, 0)


@pytest.mark.contract(1, 2)
@pytest.mark.parametrize(
    ("case", "price", "moment", "status", "charged"),
    [
        ("a plan of the same price", 2_900, MID_PERIOD, 200, 0),
        ("a plan one cent cheaper", 2_899, MID_PERIOD, 409, None),
        ("Pro, six minutes before the period ends", 9_900, datetime(2026, 3, 30, 23, 54, tzinfo=UTC), 200, 1),
    ],
    ids=["same_price", "one_cent_cheaper", "last_minutes"],
)
def test_the_boundaries_of_an_upgrade(
    client: Client,
    mailoutbox: list[EmailMessage],
    django_capture_on_commit_callbacks: CaptureCallbacks,
    case: str,
    price: int,
    moment: datetime,
    status: int,
    charged: int | None,
) -> None:
    basic = PlanFactory.create(code="basic", name="Basic", monthly_price_cents=2_900)
    PlanFactory.create(code="target", name="Target", monthly_price_cents=price)
    subscription = SubscriptionFactory.create(plan=basic)

    with django_capture_on_commit_callbacks(execute=True), time_machine.travel(moment, tick=False):
        response = client.post(
            f"/api/v1/subscriptions/{subscription.pk}/change-plan", {"plan": "target"}, content_type="application/json"
        )

    assert response.status_code == status, f"Moving to {case} must answer {status}: {response.content!r}"
    invoices = list(Invoice.objects.values_list("amount_cents", flat=True))
    if charged is None:
        assert (invoices, len(mailoutbox)) == ([], 0)
    else:
        assert response.json()["prorated_charge_cents"] == charged
        assert invoices == ([charged] if charged else []), f"{case}: a charge of 0 makes no invoice"
        assert len(mailoutbox) == 1


@pytest.mark.contract(2)
def test_a_subscription_is_read(client: Client) -> None:
    subscription = SubscriptionFactory.create(plan=PlanFactory.create(code="basic"))

    response = client.get(f"/api/v1/subscriptions/{subscription.pk}")

    assert (response.status_code, response.json()["plan"]) == (200, "basic")
    missing = client.get("/api/v1/subscriptions/999999")
    assert (missing.status_code, envelope(missing)["code"]) == (404, "not_found")


@pytest.mark.contract(3)
@pytest.mark.parametrize(
    ("url", "body"),
    [
        ("/api/v1/subscriptions/{id}/change-plan", {"plan": "pro\x00"}),
        ("/api/v1/subscriptions/{id}/change-plan", {"plan": ""}),
        ("/api/v1/subscriptions/{id}/change-plan", {}),
        (f"/api/v1/subscriptions/{2**63}/change-plan", {"plan": "pro"}),
        ("/api/v1/subscriptions/0/change-plan", {"plan": "pro"}),
    ],
    ids=["nul_byte", "empty_plan", "no_plan", "id_too_large", "id_zero"],
)
def test_bad_input_is_a_422_in_the_error_shape(client: Client, url: str, body: dict[str, str]) -> None:
    basic, _pro = basic_and_pro()
    subscription = SubscriptionFactory.create(plan=basic)

    response = client.post(url.format(id=subscription.pk), body, content_type="application/json")

    assert (response.status_code, envelope(response)["code"]) == (422, "validation_error")


# --- where the logic lives ---


@pytest.mark.contract(4)
@pytest.mark.lesson("ARCH-2")
def test_the_plan_change_is_a_service_with_an_injected_email_client(
    emails: FakeEmailClient, mailoutbox: list[EmailMessage], django_capture_on_commit_callbacks: CaptureCallbacks
) -> None:
    change_plan = change_plan_service()
    basic, pro = basic_and_pro()
    subscription = SubscriptionFactory.create(plan=basic)

    with django_capture_on_commit_callbacks(execute=True), time_machine.travel(LATE_IN_PERIOD, tick=False):
        change_plan(subscription.pk, "pro", emails=emails)

    subscription.refresh_from_db()
    amounts = list(Invoice.objects.values_list("amount_cents", flat=True))
    check(
        subscription.plan == pro and amounts == [LATE_UPGRADE_CENTS],
        f"After services.change_plan(subscription_id, 'pro', emails=...) with 6.5 days of the period left, the "
        f"subscription is on {subscription.plan.code!r} with invoices of {amounts} cents; the route moves it "
        f"to 'pro' and invoices {LATE_UPGRADE_CENTS} cents. The service does all of it, without HTTP.",
    )
    check(
        [(mail.to, mail.subject) for mail in emails.sent] == [(subscription.customer.email, "Your plan is now Pro")]
        and not mailoutbox,
        f"The customer must get one email, through the client passed as `emails`: that client sent "
        f"{len(emails.sent)}, and {len(mailoutbox)} went out another way (a client the code made itself). "
        "A service that is given its email client can be called with a fake in a test, and with the real "
        "one by the route, the admin and a management command.",
    )
    inside = [mail.sent_from for mail in emails.sent if mail.in_transaction]
    check(
        not inside,
        f"The email went out while the change's transaction was still open (from {', '.join(inside)}). If "
        "anything after the send fails, the transaction rolls back and the customer has been told about "
        "a plan change that never happened; and the row lock is held while the email provider answers. "
        "Register the send with `transaction.on_commit()`: it runs once the outermost transaction commits.",
    )


@pytest.mark.contract(4, 5)
@pytest.mark.lesson("ARCH-2")
def test_a_plan_change_that_fails_half_way_leaves_nothing_and_sends_nothing(
    emails: FakeEmailClient, mailoutbox: list[EmailMessage], django_capture_on_commit_callbacks: CaptureCallbacks
) -> None:
    """A plan change that fails half-way leaves nothing and sends nothing"""
    change_plan = change_plan_service()
    basic, _pro = basic_and_pro()
    subscription = SubscriptionFactory.create(plan=basic)

    raised: BaseException | None = None
    with (
        fails_once_when_written(Invoice, DatabaseError("the invoice insert failed")),
        django_capture_on_commit_callbacks(execute=True),
        time_machine.travel(MID_PERIOD, tick=False),
    ):
        try:
            change_plan(subscription.pk, "pro", emails=emails)
        except Exception as error:  # the failure must reach the caller
            raised = error

    subscription.refresh_from_db()
    left = []
    if subscription.plan != basic:
        left.append(f"the subscription is on {subscription.plan.code!r}")
    if emails.sent or mailoutbox:
        left.append(f"{len(emails.sent) + len(mailoutbox)} email(s) went out")
    if raised is None:
        left.append("the service returned as if it had worked")
    check(
        not left,
        "The invoice insert of services.change_plan() failed (the grader made the database refuse it), "
        f"and then {'; '.join(left)}. The plan change and its invoice are one fact: write them in one "
        "`transaction.atomic()` block so that a failure undoes both, let the error reach the caller, and "
        "send the email only once the transaction has committed.",
    )


@pytest.mark.contract(4)
@pytest.mark.lesson("ARCH-2")
def test_a_change_whose_callers_transaction_rolls_back_sends_nothing(
    emails: FakeEmailClient, django_capture_on_commit_callbacks: CaptureCallbacks
) -> None:
    """A plan change made inside a caller's transaction that then rolls back sends no email"""
    change_plan = change_plan_service()
    basic, _pro = basic_and_pro()
    subscription = SubscriptionFactory.create(plan=basic)

    class CallerFailedError(Exception):
        """The caller's own work after the change failed, so its transaction rolls back."""

    with django_capture_on_commit_callbacks(execute=True), time_machine.travel(MID_PERIOD, tick=False):
        try:
            with transaction.atomic():  # the caller's: a view with ATOMIC_REQUESTS, a batch job
                change_plan(subscription.pk, "pro", emails=emails)
                raise CallerFailedError
        except CallerFailedError:
            pass

    subscription.refresh_from_db()
    check(
        subscription.plan == basic and not emails.sent,
        "A caller changed the plan inside a transaction of its own (a view with ATOMIC_REQUESTS, a batch job "
        "that moves many subscriptions), and its own work failed afterwards, so its transaction rolled back "
        f"the change: the subscription is on {subscription.plan.code!r}, and {len(emails.sent)} email(s) went "
        "out. An email sent after the service's `with transaction.atomic():` block still goes out before the "
        "caller's transaction commits, because an inner block commits nothing. Register the send with "
        "`transaction.on_commit()`: Django runs it once the outermost transaction commits, never after a "
        "rollback.",
    )


@pytest.mark.contract(5)
@pytest.mark.guard("ARCH-1")
@pytest.mark.parametrize(
    ("model", "error"),
    [
        (Invoice, DatabaseError("the invoice insert failed")),
        (Invoice, IntegrityError("the invoice insert broke a constraint")),
        (Subscription, OperationalError("the connection was lost while saving the subscription")),
    ],
    ids=["invoice_database_error", "invoice_integrity_error", "subscription_operational_error"],
)
def test_a_write_that_fails_is_our_error_not_the_clients(
    client: Client, django_capture_on_commit_callbacks: CaptureCallbacks, model: type[Model], error: DatabaseError
) -> None:
    """A write that fails answers a 5xx in the error envelope: the failure is ours, not a refusal of the request"""
    basic, _pro = basic_and_pro()
    subscription = SubscriptionFactory.create(plan=basic)

    with fails_once_when_written(model, error):
        response = request_change(client, django_capture_on_commit_callbacks, subscription.pk, "pro")

    subscription.refresh_from_db()
    body = response.json() if response.headers.get("Content-Type", "").startswith("application/json") else {}
    check(
        response.status_code >= 500 and set(body) == {"code", "message", "details"},
        f"When the database failed ({type(error).__name__}: {error}) while saving the {model.__name__} of a "
        f"plan change, POST /change-plan answered {response.status_code}: {response.content[:200]!r}. The "
        "request was valid and the subscription could change plans: the failure is ours. A 409 (or any "
        "4xx) tells the client that their request conflicts with the subscription's state, so they stop "
        "retrying and support looks for a rule that does not exist; a 200 tells them it worked. Let the "
        "error reach api_errors.install()'s handler (a 500 in the error envelope, logged with its "
        "traceback), and keep the mapping of the service's own refusals to 404 and 409 in the exception "
        "handlers: a route that catches DatabaseError holds a decision that is not the router's to make.",
    )
    check(
        subscription.plan == basic and not Invoice.objects.exists(),
        f"After the failed write the subscription is on {subscription.plan.code!r} with "
        f"{Invoice.objects.count()} invoice(s): the change and its invoice are undone together.",
    )


# what a database says when it fails a statement for reasons of its own: a lock it could not take in time,
# or a connection it lost. None of them is a rule of the plan change, whatever the words say
DATABASE_FAILURES = (
    "database is locked",
    "canceling statement due to lock timeout",
    'could not obtain lock on row in relation "thin_router_subscription"',
    "server closed the connection unexpectedly",
)
ROW_STATEMENT = re.compile(r"^\s*(SELECT|INSERT|UPDATE|DELETE)\b", re.IGNORECASE)


@contextmanager
def fails_at_statement(number: int, error: Exception) -> Iterator[list[str]]:
    """The `number`th statement that reads or writes rows (0 first) raises `error` instead of running.

    Yields the statements seen, so that the caller knows when `number` is past the last one."""
    seen: list[str] = []

    # Django's execute-wrapper protocol: untyped parameters and results, passed through as they are
    def fail(
        execute: Callable[..., object], sql: str, params: object, many: bool, context: dict[str, object]
    ) -> object:
        if ROW_STATEMENT.match(sql):
            seen.append(" ".join(sql.split())[:100])
            if len(seen) - 1 == number:
                raise error
        return execute(sql, params, many, context)

    with connection.execute_wrapper(fail):
        yield seen


@pytest.mark.contract(5)
@pytest.mark.guard("ARCH-1")
@pytest.mark.parametrize("words", DATABASE_FAILURES)
def test_any_statement_that_fails_is_our_error_not_the_clients(
    client: Client, django_capture_on_commit_callbacks: CaptureCallbacks, words: str
) -> None:
    """Whichever statement of a plan change the database fails, and whatever it says, the API answers a 5xx"""
    wrong = []
    for number in range(50):
        with rolled_back():
            basic, _pro = basic_and_pro()
            subscription = SubscriptionFactory.create(plan=basic)
            with fails_at_statement(number, OperationalError(words)) as seen:
                response = request_change(client, django_capture_on_commit_callbacks, subscription.pk, "pro")
            if len(seen) <= number:
                break  # the change ran all its statements: each has failed once
            subscription.refresh_from_db()
            body = response.json() if response.headers.get("Content-Type", "").startswith("application/json") else {}
            left = [f"the subscription on {subscription.plan.code!r}"] if subscription.plan != basic else []
            if Invoice.objects.exists():
                left.append(f"{Invoice.objects.count()} invoice(s)")
            if response.status_code < 500 or set(body) != {"code", "message", "details"} or left:
                wrong.append(
                    f"  statement {number + 1} ({seen[number]}): answered {response.status_code} "
                    f"{response.content[:120]!r}{', and left ' + ', '.join(left) if left else ''}"
                )
    check(
        not wrong,
        f"The grader made the database fail one statement of POST /change-plan at a time, with "
        f"OperationalError({words!r}), on a valid upgrade of an active subscription:\n"
        + "\n".join(wrong)
        + "\nA database that cannot run a statement (a lock it could not take in time, a lost connection, "
        "SQLite's 'database is locked') is our failure, not a conflict with the subscription's state: a 409 "
        "(or any 4xx) tells the client their request can never succeed as it is, so they stop retrying. Let "
        "the error reach api_errors.install()'s handler (a 500 in the error envelope) or answer a 503 in "
        "the envelope; a second change at the same moment is refused with 409 only once it has read the "
        "first one's result under the row lock, never because a statement failed.",
    )


@pytest.mark.contract(7)
@pytest.mark.lesson("ARCH-1")
def test_route_functions_only_parse_call_and_return() -> None:
    path = Path(inspect.getsourcefile(api) or "")
    routes, problems = api_problems(ast.parse(read_source(path), str(path)))
    assert routes, f"{shown(path)} has no route functions any more."

    check(
        not problems,
        "These parts of api.py do more than handle HTTP:\n"
        + "\n".join(problems)
        + "\nA route parses the request, calls one service and returns its result. The checks, the "
        "transaction, the writes and the email belong to the service, where the admin, a management "
        "command or a queue consumer can reach them too.\nHow this is checked: the grader reads api.py. "
        f"A function decorated as a route may have at most {MAX_ROUTE_STATEMENTS} statements, and no code in "
        "api.py (routes, helpers, module-level names) may use .objects, .filter(), .save(), .create(), "
        "transaction, get_object_or_404() or a client's .send(). Exception handlers are not routes: "
        "turning a domain exception into a 404 or 409 belongs there.",
    )


@pytest.mark.contract(7)
@pytest.mark.lesson("ARCH-1")
def test_the_route_leaves_the_writes_to_the_service(
    client: Client, django_capture_on_commit_callbacks: CaptureCallbacks
) -> None:
    basic, _pro = basic_and_pro()
    subscription = SubscriptionFactory.create(plan=basic)

    with invoice_writes_recorded() as invoice_writes:
        response = request_change(client, django_capture_on_commit_callbacks, subscription.pk, "pro")

    assert response.status_code == 200, response.content
    from_api = [origin for origin in invoice_writes if origin.startswith("api.py,")]
    check(
        invoice_writes and not from_api,
        f"Through POST /change-plan, the invoice was written from {', '.join(from_api) or 'nowhere'}. The "
        "route must hand the work to services.change_plan(), so that the same code runs for every entry "
        "point: today the bulk migration and the admin cannot reach what lives in api.py.",
    )


@pytest.mark.contract(8)
@pytest.mark.lesson("ARCH-3")
def test_saving_a_subscription_sends_no_email(
    mailoutbox: list[EmailMessage], django_capture_on_commit_callbacks: CaptureCallbacks
) -> None:
    basic, pro = basic_and_pro()
    subscription = Subscription.objects.get(pk=SubscriptionFactory.create(plan=basic).pk)

    with django_capture_on_commit_callbacks(execute=True):
        subscription.plan = pro  # e.g. support fixing a plan in the admin
        subscription.save()
        subscription.plan = basic  # e.g. a script that saves only what it changed
        subscription.save(update_fields=["plan", "updated_at"])
        subscription.current_period_end += timedelta(days=1)  # e.g. a data fix
        subscription.save()

    check(
        not mailoutbox,
        f"Saving a subscription sent {len(mailoutbox)} email(s): {[mail.subject for mail in mailoutbox]}. "
        "Every caller of save() sends it, the admin, a data fix, a migration, whether it means to or not, "
        "and from inside whatever transaction it is in. Let save() only save, and send the email from "
        "the service that changes the plan, where whoever calls it can see it.",
    )


@pytest.mark.contract(8)
@pytest.mark.lesson("ARCH-3")
def test_the_service_not_the_model_writes_and_sends(
    emails: FakeEmailClient, django_capture_on_commit_callbacks: CaptureCallbacks
) -> None:
    change_plan = change_plan_service()
    basic, _pro = basic_and_pro()
    subscription = SubscriptionFactory.create(plan=basic)

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


# --- two changes at once ---


def answer_of(response: "TestResponse") -> str:
    """An answer as a learner reads it: the status, and the error's code and message if it is one."""
    if response.status_code < 400:
        return str(response.status_code)
    body = response.json() if response.headers.get("Content-Type", "").startswith("application/json") else {}
    return f"{response.status_code} {body.get('code', '')}: {body.get('message', response.content[:120])}"


def post_change(subscription_id: int, plan: str, answers: dict[int, "TestResponse"]) -> Callable[[], None]:
    def post() -> None:
        answers[subscription_id if subscription_id not in answers else -subscription_id] = Client().post(
            f"/api/v1/subscriptions/{subscription_id}/change-plan", {"plan": plan}, content_type="application/json"
        )

    return post


INTERLEAVINGS = [
    pytest.param(interleaved, id="interleaved"),
    pytest.param(race, id="race", marks=pytest.mark.postgresql),
]


@pytest.mark.threads  # another worker commits from a thread of its own
@pytest.mark.lesson("ARCH-2")
@pytest.mark.contract(6)
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("interleave", INTERLEAVINGS)
@pytest.mark.parametrize(
    ("yours", "theirs"), [("pro", "pro"), ("plus", "pro")], ids=["both_to_pro", "to_plus_and_to_pro"]
)
def test_two_upgrades_of_one_subscription_at_once_charge_once(
    mailoutbox: list[EmailMessage], interleave: Interleave, yours: str, theirs: str
) -> None:
    """Two upgrades of one subscription at the same moment charge as one after the other would"""
    basic, _pro = basic_and_pro()
    PlanFactory.create(code="plus", name="Plus", monthly_price_cents=5_900)
    subscription = SubscriptionFactory.create(plan=basic)
    answers: dict[int, TestResponse] = {}

    with time_machine.travel(MID_PERIOD, tick=False):
        outcome = interleave(
            post_change(subscription.pk, yours, answers), post_change(subscription.pk, theirs, answers)
        )

    subscription.refresh_from_db()
    seen = (
        sorted(response.status_code for response in answers.values()),
        sorted(Invoice.objects.values_list("amount_cents", flat=True)),
        len(mailoutbox),
        subscription.plan.code,
    )
    # what the two changes do one after the other, in either order (half of the period is left)
    serial = {
        ("pro", "pro"): [([200, 409], [3_500], 1, "pro")],
        ("plus", "pro"): [([200, 200], [1_500, 2_000], 2, "pro"), ([200, 409], [3_500], 1, "pro")],
    }[(yours, theirs)]
    check(
        seen in serial,
        f"Two requests changed the same Basic subscription at the same moment, yours to {yours.title()} and "
        f"another to {theirs.title()} (how they met: {outcome.interleaving}). They answered "
        f"{', '.join(answer_of(r) for r in answers.values()) or 'nothing'}, left invoices of {seen[1]} cents, "
        f"sent {seen[2]} email(s) and left the subscription on {seen[3]!r}. Two changes at once must do what "
        "they do one after the other: the second sees the first's plan, charges the difference from it, and "
        "is refused with 409 conflict when it is already on that plan or would be a downgrade. Read the "
        "subscription with select_for_update() inside the transaction, before any check or price (or make "
        "the write itself conditional on the plan you read), so that the second change waits and then sees "
        "the first. Lock the subscription's row alone: select_for_update() over a join (select_related) "
        "re-checks the join against the plan read before the wait on PostgreSQL, finds no row, and answers "
        f"404. Errors seen: {outcome.failures() or 'none'}",
    )


@pytest.mark.threads  # another worker commits from a thread of its own
@pytest.mark.guard("ARCH-2")
@pytest.mark.contract(6)
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("interleave", INTERLEAVINGS)
def test_upgrades_of_two_subscriptions_at_once_both_go_through(
    mailoutbox: list[EmailMessage], interleave: Interleave
) -> None:
    """Upgrades of two subscriptions at the same moment both go through"""
    basic, _pro = basic_and_pro()
    first, second = SubscriptionFactory.create(plan=basic), SubscriptionFactory.create(plan=basic)
    answers: dict[int, TestResponse] = {}

    with time_machine.travel(MID_PERIOD, tick=False):
        outcome = interleave(post_change(first.pk, "pro", answers), post_change(second.pk, "pro", answers))

    statuses = [response.status_code for response in answers.values()]
    invoices = sorted(Invoice.objects.values_list("subscription_id", flat=True))
    check(
        statuses == [200, 200] and invoices == sorted([first.pk, second.pk]) and len(mailoutbox) == 2,
        "Two requests moved two different subscriptions to Pro at the same moment (how they met: "
        f"{outcome.interleaving}). They answered {', '.join(answer_of(r) for r in answers.values()) or 'nothing'}, "
        f"left {len(invoices)} invoice(s) and sent {len(mailoutbox)} email(s); each must go through, with its "
        "own invoice and email. Lock only the subscription being changed (its row), not every subscription, "
        f"and refuse nothing that is not a rule of the change. Errors seen: {outcome.failures() or 'none'}",
    )


# --- generated scenarios, against the reference solution ---

PERIOD_START = datetime(2026, 3, 1, tzinfo=UTC)
# 40 examples, each a request and a service call: far more than one check's usual time on a loaded machine
SCENARIO_SECONDS = 120


@cache
def reference_services() -> ModuleType:
    """The reference solution's services, on the learner's models: the oracle of the generated scenarios."""
    return reference("thin_router.services")


@st.composite
def plan_changes(draw: st.DrawFn) -> dict[str, Any]:
    """One plan change: the plans' prices, the subscription's state, the plan asked for, and the moment."""
    current = draw(st.sampled_from([0, 1, 2_900, 9_900]) | st.integers(0, 50_000))
    step = draw(st.sampled_from([0, 1, -1, 7_000, -2_900]) | st.integers(-50_000, 50_000))
    return {
        "current_cents": current,
        "target_cents": max(current + step, 0),
        "target": draw(st.sampled_from(["other", "other", "same", "inactive", "unknown"])),
        "canceled": draw(st.booleans()),
        "unknown_subscription": draw(st.integers(0, 9)) == 0,
        "days": draw(st.integers(28, 31)),
        "at": PERIOD_START + timedelta(minutes=draw(st.integers(-3 * 1440, 33 * 1440))),
    }


def described(case: dict[str, Any]) -> str:
    target = {
        "other": f"an active plan of {case['target_cents']} cents",
        "same": "the plan it is already on",
        "inactive": f"an inactive plan of {case['target_cents']} cents",
        "unknown": "a plan code that does not exist",
    }[case["target"]]
    whose = (
        "an unknown subscription"
        if case["unknown_subscription"]
        else (
            f"a {'canceled' if case['canceled'] else 'active'} subscription on a plan of {case['current_cents']} cents"
        )
    )
    return (
        f"{whose}, with a {case['days']}-day period from {PERIOD_START:%Y-%m-%d}, moved to {target} "
        f"at {case['at']:%Y-%m-%d %H:%M} UTC"
    )


def arranged(case: dict[str, Any]) -> tuple[int, str]:
    """The rows of one scenario: the subscription's id to change and the plan code to ask for."""
    current = PlanFactory.create(code="current", name="Current", monthly_price_cents=case["current_cents"])
    PlanFactory.create(code="target", name="Target", monthly_price_cents=case["target_cents"])
    PlanFactory.create(code="retired", name="Retired", monthly_price_cents=case["target_cents"], is_active=False)
    subscription = SubscriptionFactory.create(
        plan=current,
        status=Subscription.Status.CANCELED if case["canceled"] else Subscription.Status.ACTIVE,
        current_period_start=PERIOD_START,
        current_period_end=PERIOD_START + timedelta(days=case["days"]),
    )
    code = {"other": "target", "same": "current", "inactive": "retired", "unknown": "enterprise"}[case["target"]]
    return (subscription.pk + 1_000_000 if case["unknown_subscription"] else subscription.pk), code


def state_after() -> tuple[list[str], list[tuple[str, int]]]:
    plans = list(Subscription.objects.order_by("pk").values_list("plan__code", flat=True))
    invoices = list(Invoice.objects.order_by("pk").values_list("description", "amount_cents"))
    return plans, invoices


@pytest.mark.guard("ARCH-2")
@pytest.mark.contract(1, 2)
@pytest.mark.timeout(SCENARIO_SECONDS)
@scenarios(40)
@given(case=plan_changes())
def test_plan_changes_answer_write_and_send_as_the_reference_does(
    client: Client, django_capture_on_commit_callbacks: CaptureCallbacks, case: dict[str, Any]
) -> None:
    """Generated plan changes answer, write and send what the reference solution does"""
    expected_service = reference_services()
    refusals = {
        expected_service.SubscriptionNotFoundError: 404,
        expected_service.PlanNotFoundError: 404,
        expected_service.PlanChangeNotAllowedError: 409,
    }

    with rolled_back(), time_machine.travel(case["at"], tick=False):
        subscription_id, code = arranged(case)
        mail.outbox = []
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                f"/api/v1/subscriptions/{subscription_id}/change-plan", {"plan": code}, content_type="application/json"
            )
        body = response.json() if response.headers.get("Content-Type", "").startswith("application/json") else {}
        charge = body.get("prorated_charge_cents") if response.status_code == 200 else body.get("code")
        sent = [(message.subject, message.body) for message in mail.outbox]
        yours = (response.status_code, charge, *state_after(), sent)

    with rolled_back(), time_machine.travel(case["at"], tick=False):
        subscription_id, code = arranged(case)
        recorder = FakeEmailClient()
        with django_capture_on_commit_callbacks(execute=True):
            try:
                changed = expected_service.change_plan(subscription_id, code, emails=recorder)
                status, charge = 200, changed.prorated_charge_cents
            except tuple(refusals) as refusal:
                status = refusals[type(refusal)]
                charge = "not_found" if status == 404 else "conflict"
        expected = (status, charge, *state_after(), [(email.subject, email.body) for email in recorder.sent])

    labels = ("status", "charge (or error code)", "plans afterwards", "invoices", "emails (subject, body)")
    differences = [
        f"  {label}: yours {mine!r}, expected {theirs!r}"
        for label, mine, theirs in zip(labels, yours, expected, strict=True)
        if mine != theirs
    ]
    check(
        yours == expected,
        f"POST /change-plan for {described(case)} did not do what the plan change does:\n"
        + "\n".join(differences)
        + "\nThe service must keep every check of the old route (active subscription, active plan, not the same "
        "plan, no downgrade), the proration (price difference x the share of the period left, rounded to the "
        "cent; an invoice only above 0) and the one email, and the route must answer as it did (404 and 409 "
        "in the error shape).",
    )


# characters that look like a plan code's letters, or that a normalisation (NFKC, casefold, strip) would
# fold into them: Cyrillic look-alikes, full-width forms, and white space of several kinds around the code
LOOK_ALIKES = {"a": "\u0430", "c": "\u0441", "i": "\u0456", "o": "\u043e", "p": "\u0440", "s": "\u0455"}
PADDING = ("", " ", "  ", "\t", "\n", "\u00a0", "\u200b", "\u3000")


@st.composite
def codes_of_no_plan(draw: st.DrawFn) -> str:
    """A code that is not, as given, the code of a plan: an existing one in another case, padded with white
    space, or with a letter swapped for a look-alike or its full-width form."""
    code = draw(st.sampled_from(["pro", "basic"]))
    letters = [
        draw(
            st.sampled_from(
                [letter, letter.upper(), LOOK_ALIKES.get(letter, letter.upper()), chr(ord(letter) + 0xFEE0)]
            )
        )
        for letter in code
    ]
    given = draw(st.sampled_from(PADDING)) + "".join(letters) + draw(st.sampled_from(PADDING))
    assume(given != code)
    return given


@pytest.mark.guard("ARCH-2")
@pytest.mark.contract(2)
@pytest.mark.timeout(SCENARIO_SECONDS)
@scenarios(30)
@given(code=codes_of_no_plan())
def test_a_plan_code_is_used_as_given(
    client: Client, django_capture_on_commit_callbacks: CaptureCallbacks, code: str
) -> None:
    """A code that is an existing plan's only once trimmed, case-folded or normalised is no plan's code"""
    expected_service = reference_services()
    with rolled_back(), time_machine.travel(MID_PERIOD, tick=False):
        basic, _pro = basic_and_pro()
        subscription = SubscriptionFactory.create(plan=basic)
        mail.outbox = []
        response = request_change(client, django_capture_on_commit_callbacks, subscription.pk, code)
        body = response.json() if response.headers.get("Content-Type", "").startswith("application/json") else {}
        yours = (response.status_code, body.get("code"), *state_after(), len(mail.outbox))

    with rolled_back(), time_machine.travel(MID_PERIOD, tick=False):
        basic, _pro = basic_and_pro()
        subscription = SubscriptionFactory.create(plan=basic)
        recorder = FakeEmailClient()
        with django_capture_on_commit_callbacks(execute=True):
            try:
                expected_service.change_plan(subscription.pk, code, emails=recorder)
                status, error = 200, None
            except expected_service.PlanNotFoundError:
                status, error = 404, "not_found"
        expected = (status, error, *state_after(), len(recorder.sent))

    check(
        yours == expected,
        f"POST /change-plan with {{'plan': {code!r}}} for a subscription on Basic (the plans are 'basic' and "
        f"'pro') answered {yours[0]} {yours[1] or ''}, left the subscriptions on {yours[2]} with invoices "
        f"{yours[3]}, and sent {yours[4]} email(s); expected {expected[0]} {expected[1]}, subscriptions on "
        f"{expected[2]}, invoices {expected[3]}, {expected[4]} email(s). A plan code is used as given: "
        f"{code!r} is not the code of any plan, so the change is refused with 404 not_found and nothing is "
        "written or sent. Trimming it, ignoring its case (iexact, lower()) or normalising its characters "
        "takes a code no plan has for another plan's, and moves, invoices and emails a customer who asked "
        "for something else. Look the plan up with `code=plan_code` exactly.",
    )


ROUTE_CASE: dict[str, Any] = {
    "current_cents": 2_900,
    "target_cents": 9_900,
    "target": "other",
    "canceled": False,
    "unknown_subscription": False,
    "days": 30,
    "at": MID_PERIOD,
}


def route_run_problem(run: RouteRun) -> str | None:
    """Why one run of a route did more than call one service, or None."""
    if len(run.calls) == 1 and not run.queries:
        return None
    called = ", ".join(run.calls) if run.calls else "no function of the kata"
    ran = f"; it queried the database itself ({'; '.join(run.queries[:3])})" if run.queries else ""
    return f"  {run.request}: {run.route}() called {called}{ran}"


@pytest.mark.lesson("ARCH-1")
@pytest.mark.contract(7)
@pytest.mark.timeout(SCENARIO_SECONDS)
@scenarios(20)
@given(case=plan_changes())
# an upgrade that goes through, and one refusal of each kind, whatever the generated cases reach
@example(case=ROUTE_CASE)
@example(case=ROUTE_CASE | {"target": "unknown"})
@example(case=ROUTE_CASE | {"canceled": True})
@example(case=ROUTE_CASE | {"unknown_subscription": True})
def test_each_route_calls_one_service(
    client: Client, django_capture_on_commit_callbacks: CaptureCallbacks, case: dict[str, Any]
) -> None:
    """Every request of the API runs a route that calls one service, and queries nothing itself"""
    with rolled_back(), time_machine.travel(case["at"], tick=False):
        subscription_id, code = arranged(case)
        change = f"/api/v1/subscriptions/{subscription_id}/change-plan"
        made: list[str] = []
        with route_calls_recorded(made) as runs, django_capture_on_commit_callbacks(execute=True):
            made.append(f"GET /api/v1/subscriptions/{subscription_id}")
            client.get(f"/api/v1/subscriptions/{subscription_id}")
            made.append(f"POST {change} {{'plan': {code!r}}}")
            client.post(change, {"plan": code}, content_type="application/json")

    assert runs, "No route function of api.py ran for GET /subscriptions/{id} and POST /change-plan."
    problems = [problem for run in runs if (problem := route_run_problem(run))]
    check(
        not problems,
        f"For {described(case)}, these requests ran a route that did more than call one service:\n"
        + "\n".join(problems)
        + "\nA route parses the request, calls one service and returns what it returns. Two calls (a look-up "
        "for an early 404, then the change; the change, then a fresh read for the answer), or a call and a "
        "query of its own, make the route decide the order of the steps: the service is then not the whole "
        "use case, and the admin, a command or a consumer that call it skip what the route added. Give "
        "each route one service function that does it all (raising your exceptions for 404 and 409), and "
        "let the route return what that function returns.",
    )
