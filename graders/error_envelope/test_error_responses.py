"""Grader of `error_envelope`: every error answers one documented JSON envelope, and a 500 reveals nothing."""

import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlencode

import pytest
from django.db import DataError, IntegrityError, OperationalError, ProgrammingError, connection
from django.db.models import Model
from django.shortcuts import get_object_or_404
from django.test import Client, override_settings
from hypothesis import given
from hypothesis import strategies as st
from ninja import NinjaAPI
from ninja.errors import ValidationError
from pydantic import BaseModel, Field
from pydantic import ValidationError as PydanticValidationError

from dojo.grading import check, fails_once_when_saved, nul_refused_as_on_postgresql
from dojo.scenarios import rolled_back, scenarios
from error_envelope.models import ApiKey, Invoice

from .factories import ApiKeyFactory, InvoiceFactory

if TYPE_CHECKING:  # what django.test.Client answers: an HttpResponse with .json(), a type of django-stubs only
    from django.test.client import _MonkeyPatchedWSGIResponse as TestResponse

pytestmark = [pytest.mark.django_db, pytest.mark.urls("error_envelope.api")]

ENVELOPE = '{"code": ..., "message": ..., "details": [...]}'
HOW = (
    "Build every error body in one place: exception handlers on the NinjaAPI "
    "(`@api.exception_handler(SomeError)`), for our domain exceptions, Django's PermissionDenied, "
    "Ninja's HttpError and ValidationError, and Exception for everything else."
)
# what the database driver said when it failed: none of it may reach the caller
INTERNAL_ERROR = 'connection to server at "db-primary.billing.internal" (10.0.3.7), port 5432 failed'


@pytest.fixture(autouse=True)
def nul_reaches_no_database() -> Iterator[None]:
    """A NUL character in a query's parameters fails on SQLite as on PostgreSQL, whose driver refuses it."""
    with nul_refused_as_on_postgresql():
        yield


def headers(api_key: ApiKey) -> dict[str, str]:
    return {"X-API-Key": api_key.key}


def shape_problems(response: "TestResponse") -> list[str]:
    """Why the response is not the documented envelope; empty when it is."""
    content_type = response.get("Content-Type", "")
    if not content_type.startswith("application/json"):
        return [f"it is not JSON but {content_type or 'without a content type'}"]
    body = response.json()
    if not isinstance(body, dict) or set(body) != {"code", "message", "details"}:
        keys = sorted(body) if isinstance(body, dict) else type(body).__name__
        return [f"its keys are {keys}, not code, message and details"]
    problems = []
    if not isinstance(body["code"], str) or not body["code"]:
        problems.append("its code is not a non-empty string")
    if not isinstance(body["message"], str) or not body["message"]:
        problems.append("its message is not a non-empty string")
    details = body["details"]
    if not isinstance(details, list) or not all(
        isinstance(detail, dict) and set(detail) == {"field", "message"} for detail in details
    ):
        problems.append('its details are not a list of {"field": ..., "message": ...}')
    return problems


def check_envelope(response: "TestResponse", *, request: str, status: int, code: str) -> dict[str, Any]:
    """The response has the status, the envelope and the code the README documents for this error."""
    shown = " ".join(response.content.decode(errors="replace").split())[:200]
    check(
        response.status_code == status,
        f"{request} answered {response.status_code}: {shown}\nIt must still answer {status}.",
    )
    problems = shape_problems(response)
    check(
        not problems,
        f"{request} answered {status} with:\n    {shown}\nbut {'; '.join(problems)}. A client handles errors "
        f"with one parser only if every error has one shape, the documented envelope {ENVELOPE}. {HOW}",
    )
    body: dict[str, Any] = response.json()
    check(
        body["code"] == code,
        f"{request} answered {status} in the envelope, with the code {body['code']!r}. The README documents "
        f"{code!r} for this error: clients branch on the code, so it must be the documented one.",
    )
    return body


def database_fails_when_an_invoice_is_saved(error: Exception | None = None) -> AbstractContextManager[None]:
    """The database connection drops while the invoice is written, once (or `error` is raised there)."""
    return fails_once_when_saved(Invoice, error if error is not None else OperationalError(INTERNAL_ERROR))


# --- what the API does when nothing goes wrong: unchanged ---


@pytest.mark.contract(4)
def test_an_api_key_reads_an_invoice_of_its_organization(client: Client) -> None:
    api_key = ApiKeyFactory.create(can_write=False)
    invoice = InvoiceFactory.create(organization=api_key.organization, total_cents=4_990, currency="USD")

    response = client.get(f"/api/v1/invoices/{invoice.pk}", headers=headers(api_key))

    assert response.status_code == 200
    body = response.json()
    assert {k: body[k] for k in ("id", "number", "status", "total_cents", "currency")} == {
        "id": invoice.pk,
        "number": invoice.number,
        "status": "open",
        "total_cents": 4_990,
        "currency": "USD",
    }


@pytest.mark.contract(4)
@pytest.mark.parametrize("invoice_id", [1, 2**63 - 1], ids=["first", "last"])
def test_the_first_and_last_ids_the_column_holds_are_read_and_voided(client: Client, invoice_id: int) -> None:
    """A bound on the invoice ID keeps every ID an invoice can have: 1 and 2^63 - 1 are read and voided"""
    api_key = ApiKeyFactory.create(can_write=True)
    InvoiceFactory.create(id=invoice_id, organization=api_key.organization)

    read = client.get(f"/api/v1/invoices/{invoice_id}", headers=headers(api_key))
    voided = client.post(f"/api/v1/invoices/{invoice_id}/void", headers=headers(api_key))

    answers = [(read.status_code, read.content[:120]), (voided.status_code, voided.content[:120])]
    assert [status for status, _ in answers] == [200, 200], (
        f"Invoice {invoice_id} exists, and reading then voiding it answered {answers}. The column holds the IDs "
        "1 to 2^63 - 1, and a bound on the path parameter must keep every one of them."
    )


NEW_INVOICE = {"customer_email": "ap@acme.test", "total_cents": 12_000, "currency": "EUR"}


@pytest.mark.contract(4)
@pytest.mark.guard("API-3")
@pytest.mark.parametrize("total_cents", [1, 2**31 - 1], ids=["smallest", "largest"])
def test_totals_at_the_limits_are_accepted(client: Client, total_cents: int) -> None:
    """A total of one cent, and the largest the column holds, are valid"""
    api_key = ApiKeyFactory.create(can_write=True)

    created = client.post(
        "/api/v1/invoices",
        {**NEW_INVOICE, "total_cents": total_cents},
        content_type="application/json",
        headers=headers(api_key),
    )

    check(
        created.status_code == 201,
        f"Creating an invoice of {total_cents} cents answered {created.status_code}: "
        f"{created.content.decode(errors='replace')[:200]}\nA total from 1 cent up to {2**31 - 1} (what the "
        "column holds) is valid and must still be created.",
    )


@pytest.mark.contract(4)
def test_a_write_key_creates_and_voids_invoices(client: Client) -> None:
    api_key = ApiKeyFactory.create(can_write=True)

    created = client.post(
        "/api/v1/invoices",
        {"customer_email": "ap@acme.test", "total_cents": 12_000, "currency": "EUR"},
        content_type="application/json",
        headers=headers(api_key),
    )
    assert created.status_code == 201, created.content
    invoice = Invoice.objects.get(pk=created.json()["id"])
    assert (invoice.organization_id, invoice.customer_email, invoice.total_cents) == (
        api_key.organization_id,
        "ap@acme.test",
        12_000,
    )

    voided = client.post(f"/api/v1/invoices/{invoice.pk}/void", headers=headers(api_key))
    assert (voided.status_code, voided.json()["status"]) == (200, "void")


@pytest.mark.contract(4)
def test_the_revenue_report_sums_the_months_paid_invoices(client: Client) -> None:
    """The revenue report sums the month's paid invoices."""
    api_key = ApiKeyFactory.create(can_write=False)
    march = datetime(2026, 3, 14, 10, 0, tzinfo=UTC)
    for total in (10_000, 2_500):
        InvoiceFactory.create(
            organization=api_key.organization, status=Invoice.Status.PAID, paid_at=march, total_cents=total
        )
    InvoiceFactory.create(
        organization=api_key.organization, status=Invoice.Status.PAID, paid_at=datetime(2026, 4, 1, tzinfo=UTC)
    )
    InvoiceFactory.create(organization=api_key.organization)  # open: not revenue
    InvoiceFactory.create(status=Invoice.Status.PAID, paid_at=march)  # another organization's

    query: dict[str, str | int] = {"year": 2026, "month": 3, "currency": "EUR"}
    response = client.get("/api/v1/reports/revenue", query, headers=headers(api_key))

    assert response.status_code == 200
    assert response.json() == {"year": 2026, "month": 3, "currency": "EUR", "paid_invoices": 2, "total_cents": 12_500}


@pytest.mark.contract(4)
def test_refused_requests_change_nothing(client: Client) -> None:
    read_only = ApiKeyFactory.create(can_write=False)
    paid = InvoiceFactory.create(organization=read_only.organization, status=Invoice.Status.PAID)
    writer = ApiKeyFactory.create(can_write=True, organization=read_only.organization)

    for api_key in (read_only, writer):
        client.post(f"/api/v1/invoices/{paid.pk}/void", headers=headers(api_key))
    client.post(
        "/api/v1/invoices",
        {"customer_email": "ap@acme.test", "total_cents": 12_000, "currency": "EUR"},
        content_type="application/json",
        headers=headers(read_only),
    )

    paid.refresh_from_db()
    assert paid.status == Invoice.Status.PAID
    assert Invoice.objects.count() == 1


# --- every error, one envelope ---


@pytest.mark.contract(1, 2)
@pytest.mark.lesson("API-3")
def test_a_body_that_is_not_json_answers_400_in_the_envelope(client: Client) -> None:
    api_key = ApiKeyFactory.create(can_write=True)

    response = client.post(
        "/api/v1/invoices",
        '{"customer_email": "ap@acme.test",',
        content_type="application/json",
        headers=headers(api_key),
    )

    check_envelope(response, request="POST /api/v1/invoices with a truncated JSON body", status=400, code="bad_request")


@pytest.mark.contract(1, 2, 3)
@pytest.mark.lesson("API-3")
def test_a_missing_or_unknown_api_key_answers_401_in_the_envelope(client: Client) -> None:
    api_key = ApiKeyFactory.create(can_write=False)
    invoice = InvoiceFactory.create(organization=api_key.organization)
    url = f"/api/v1/invoices/{invoice.pk}"

    check_envelope(client.get(url), request=f"GET {url} without an API key", status=401, code="not_authenticated")
    check_envelope(
        client.get(url, headers={"X-API-Key": "key_live_unknown"}),
        request=f"GET {url} with an unknown API key",
        status=401,
        code="not_authenticated",
    )
    # PostgreSQL cannot compare a text column with a NUL: its driver raises DataError before the query runs
    for key in ("key_live_\x00unknown", api_key.key + "\x00", "\x00" + api_key.key, api_key.key[:4] + "\x00"):
        check_envelope(
            client.get(url, headers={"X-API-Key": key}),
            request=f"GET {url} with the API key {key!r} (a key of ours is {api_key.key!r}), which holds a NUL "
            "character: no key of ours does, and PostgreSQL cannot even compare one (refuse it before the lookup)",
            status=401,
            code="not_authenticated",
        )


@pytest.mark.contract(1, 2)
@pytest.mark.lesson("API-3")
def test_a_read_only_key_answers_403_in_the_envelope(client: Client) -> None:
    api_key = ApiKeyFactory.create(can_write=False)
    invoice = InvoiceFactory.create(organization=api_key.organization)

    body = check_envelope(
        client.post(f"/api/v1/invoices/{invoice.pk}/void", headers=headers(api_key)),
        request=f"POST /api/v1/invoices/{invoice.pk}/void with a read-only key",
        status=403,
        code="permission_denied",
    )
    assert body["details"] == []
    check(
        "read-only" in body["message"],
        f"The 403 answer says {body['message']!r}: the service's PermissionDenied says why (the key is "
        "read-only), and the message should still say so. Answer str(exc), and a default only when it is empty.",
    )
    check_envelope(
        client.post(
            "/api/v1/invoices",
            {"customer_email": "ap@acme.test", "total_cents": 12_000, "currency": "EUR"},
            content_type="application/json",
            headers=headers(api_key),
        ),
        request="POST /api/v1/invoices with a read-only key",
        status=403,
        code="permission_denied",
    )


@pytest.mark.contract(1, 2)
@pytest.mark.lesson("API-3")
def test_unknown_invoice_ids_answer_404_in_the_envelope(client: Client) -> None:
    api_key = ApiKeyFactory.create(can_write=True)
    elsewhere = InvoiceFactory.create()  # another organization's invoice: as unknown to this key as a missing one

    for method, url in [
        ("GET", "/api/v1/invoices/999999"),
        ("GET", f"/api/v1/invoices/{elsewhere.pk}"),
        ("POST", "/api/v1/invoices/999999/void"),
        ("GET", f"/api/v1/invoices/{2**63 - 1}"),  # the largest id the column holds: valid, and unknown
    ]:
        response = client.generic(method, url, headers=headers(api_key))
        check_envelope(response, request=f"{method} {url}", status=404, code="invoice_not_found")


@pytest.mark.contract(1, 2)
@pytest.mark.lesson("API-3")
def test_voiding_a_paid_invoice_answers_409_in_the_envelope(client: Client) -> None:
    api_key = ApiKeyFactory.create(can_write=True)
    invoice = InvoiceFactory.create(organization=api_key.organization, status=Invoice.Status.PAID)
    url = f"/api/v1/invoices/{invoice.pk}/void"

    body = check_envelope(
        client.post(url, headers=headers(api_key)),
        request=f"POST {url} (a paid invoice)",
        status=409,
        code="invoice_already_paid",
    )
    assert invoice.number in body["message"], "The message should still say which invoice is paid."


@pytest.mark.contract(1, 2, 3)
@pytest.mark.lesson("API-3")
@pytest.mark.parametrize(
    ("where", "method", "url", "data", "field"),
    [
        ("body", "POST", "/api/v1/invoices", {"customer_email": "ap@acme.test", "total_cents": "lots"}, "total_cents"),
        ("path", "GET", "/api/v1/invoices/latest", None, "invoice_id"),
        ("query", "GET", "/api/v1/reports/revenue?year=2026&month=13&currency=EUR", None, "month"),
        ("body", "POST", "/api/v1/invoices", {**NEW_INVOICE, "total_cents": 0}, "total_cents"),
        ("body", "POST", "/api/v1/invoices", {**NEW_INVOICE, "total_cents": 2**31}, "total_cents"),
        ("body", "POST", "/api/v1/invoices", {**NEW_INVOICE, "customer_email": "ap\x00@acme.test"}, "customer_email"),
    ],
    ids=["body", "path", "query", "total_zero", "total_too_large", "email_with_nul"],
)
def test_invalid_input_answers_422_in_the_envelope(
    client: Client, where: str, method: str, url: str, data: dict[str, object] | None, field: str
) -> None:
    api_key = ApiKeyFactory.create(can_write=True)
    body_text = json.dumps(data) if data is not None else ""

    response = client.generic(method, url, body_text, content_type="application/json", headers=headers(api_key))

    body = check_envelope(
        response,
        request=f"{method} {url}" + (f" with {body_text}" if data else ""),
        status=422,
        code="validation_error",
    )
    named = [detail["field"] for detail in body["details"]]
    check(
        field in named,
        f"The {where} parameter {field!r} is invalid, but the details name {named or 'no field'}. Each detail "
        'says which field is wrong, as the client sent it: {"field": "' + field + '", "message": ...}. Ninja\'s '
        'ValidationError lists the problems in exc.errors, each with its "loc" and "msg"; the loc starts with '
        'where the value came from ("body", "path", "query") and, for a body, the view\'s parameter name, '
        "which the client never sent. Drop those, and join the rest of the path (a nested field is "
        '"lines.0.amount", not just "amount").',
    )


# --- nested bodies: a detail names the whole path to the field, as the client sent it ---


class TaxIn(BaseModel):
    rate_percent: int = Field(ge=0, le=100)


class LineIn(BaseModel):
    description: str = Field(min_length=1)
    amount: int = Field(gt=0)
    tax: TaxIn | None = None


class LinesIn(BaseModel):
    """A nested body, validated as Ninja validates a view's body parameter."""

    lines: list[LineIn] = Field(min_length=1)


_LINE_VALUE = st.one_of(st.integers(-5, 5), st.sampled_from(["", "Hosting", "lots", "12"]), st.none())
_LINES = st.lists(
    st.dictionaries(
        st.sampled_from(["description", "amount", "tax"]),
        st.one_of(_LINE_VALUE, st.dictionaries(st.just("rate_percent"), st.one_of(st.integers(-50, 150), st.none()))),
        max_size=3,
    ),
    max_size=4,
)


NESTED_SECONDS = 90  # 40 requests, on a loaded machine


def validation_error_of(lines: object) -> ValidationError | None:
    """The error Ninja raises for this body of a view whose parameter `payload` is LinesIn, or None if valid."""
    try:
        LinesIn.model_validate({"lines": lines})
    except PydanticValidationError as error:
        errors = [
            {"loc": ("body", "payload", *item["loc"]), "msg": item["msg"], "type": item["type"]}
            for item in error.errors(include_url=False)
        ]
        return ValidationError(errors)
    return None


@pytest.mark.contract(3)
@pytest.mark.lesson("API-3")
@pytest.mark.timeout(NESTED_SECONDS)
@scenarios(40)
@given(lines=_LINES)
def test_details_name_nested_fields_by_their_whole_path(client: Client, lines: list[dict[str, object]]) -> None:
    """Generated nested bodies that Ninja refuses: each detail names its field's whole path, e.g. lines.0.amount"""
    error = validation_error_of(lines)
    if error is None:
        return
    expected = sorted(".".join(str(part) for part in item["loc"][2:]) for item in error.errors)
    from error_envelope import services

    def refuses_the_lines(*args: object, **kwargs: object) -> Invoice:
        raise error

    body = json.dumps({**NEW_INVOICE, "lines": lines})
    with rolled_back(), pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setattr(services, "create_invoice", refuses_the_lines)
        response = client.post(
            "/api/v1/invoices",
            body,
            content_type="application/json",
            headers=headers(ApiKeyFactory.create(can_write=True)),
        )
    answer = check_envelope(
        response, request=f"POST /api/v1/invoices with {body}, refused by Ninja", status=422, code="validation_error"
    )
    named = sorted(str(detail["field"]) for detail in answer["details"])
    check(
        named == expected,
        f"Ninja refused the body {body} with the locations "
        f"{[list(item['loc']) for item in error.errors]}, and the details name {named}; the client sent "
        f"{expected}. A detail names the whole path to the field, as the client sent it: the amount of the "
        'first line is "lines.0.amount", not "amount" (which line?) nor "body.payload.lines.0.amount". '
        'Drop the leading "body" and the view\'s parameter name, and join the rest with dots.',
    )


@pytest.mark.contract(1, 2)
@pytest.mark.lesson("API-3")
def test_a_method_the_path_does_not_have_answers_405_in_the_envelope(client: Client) -> None:
    api_key = ApiKeyFactory.create(can_write=True)
    invoice = InvoiceFactory.create(organization=api_key.organization)
    url = f"/api/v1/invoices/{invoice.pk}"

    response = client.delete(url, headers=headers(api_key))

    check_envelope(response, request=f"DELETE {url}", status=405, code="method_not_allowed")
    check(
        response.get("Allow") == "GET",
        f"DELETE {url} answered 405 without saying which methods the path has (Allow: {response.get('Allow')}): "
        "keep the Allow header of Ninja's answer when you rewrite its body.",
    )


@pytest.mark.contract(1, 2)
@pytest.mark.lesson("API-3")
@pytest.mark.parametrize("raised", ["DoesNotExist", "Http404"])
def test_a_lookup_that_finds_nothing_answers_404_in_the_envelope(
    client: Client, monkeypatch: pytest.MonkeyPatch, raised: str
) -> None:
    """A lookup that finds nothing (a DoesNotExist, get_object_or_404's Http404) answers 404 in the envelope"""
    api_key = ApiKeyFactory.create(can_write=False)
    client.raise_request_exception = False  # a crash answers 500, as in production

    def lookup_that_finds_nothing(actor: object, invoice_id: int) -> Invoice:
        if raised == "Http404":
            return get_object_or_404(Invoice, pk=invoice_id, organization_id=-1)
        return Invoice.objects.get(pk=invoice_id, organization_id=-1)  # raises Invoice.DoesNotExist

    from error_envelope import services

    monkeypatch.setattr(services, "get_invoice", lookup_that_finds_nothing)
    response = client.get("/api/v1/invoices/7", headers=headers(api_key))

    check_envelope(
        response,
        request=f"GET /api/v1/invoices/7, whose service raised {raised}",
        status=404,
        code="not_found",
    )


#: what goes wrong inside, whatever its class: a database that drops, and bugs of our own (a conversion, a
#: driver's ValueError, a call with a wrong argument); none is the client's mistake, and none may tell its text
UNEXPECTED_ERRORS: list[Callable[[], Exception]] = [
    lambda: OperationalError(INTERNAL_ERROR),
    lambda: ValueError(f"invalid literal for int() with base 10: {INTERNAL_ERROR!r}"),
    lambda: TypeError(f"unsupported operand type(s) for +: {INTERNAL_ERROR!r} and 'int'"),
]


@pytest.mark.contract(1, 5)
@pytest.mark.lesson("API-3")
def test_an_unexpected_error_answers_500_in_the_envelope_and_reveals_nothing(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    api_key = ApiKeyFactory.create(can_write=True)
    client.raise_request_exception = False  # answer as production does, instead of raising in the test

    # DEBUG on too (a developer's machine, a staging server): the answer reveals nothing there either
    for make, debug in [(make, debug) for debug in (False, True) for make in UNEXPECTED_ERRORS]:
        error = make()
        kind = type(error).__name__
        url = f"/api/v1/invoices/{InvoiceFactory.create(organization=api_key.organization).pk}/void"
        caplog.clear()
        with database_fails_when_an_invoice_is_saved(error), override_settings(DEBUG=debug):
            response = client.post(url, headers=headers(api_key))
        kind = f"{kind}{' with DEBUG on' if debug else ''}"

        check(
            response.status_code == 500,
            f"POST {url}, while saving the invoice raised {kind} inside the service, answered "
            f"{response.status_code}: {' '.join(response.content.decode(errors='replace').split())[:200]}\n"
            f"Nothing was wrong with the request: the {kind} is ours (a bug, a conversion, a driver's error), "
            "and the README answers an unexpected error with 500 internal_error. Invalid input is what Ninja's "
            "validation refuses (its ValidationError): do not map ValueError or TypeError to a 4xx, which tells "
            "the client the mistake is theirs. Let the catch-all for Exception answer them.",
        )
        check_envelope(
            response,
            request=f"POST {url}, while saving the invoice raised {kind}",
            status=500,
            code="internal_error",
        )
        leaked = revealed(response, error)
        check(
            not leaked,
            f"The 500 answer to a {kind} reveals what went wrong inside: {'; '.join(leaked[:4])}.\n    "
            f"{' | '.join(f'{where}: {part[:120]}' for where, part in whole_answer(response).items())}\n"
            "Host names, addresses, exception classes and texts help an attacker and mean nothing to a "
            "client, whatever DEBUG says (a staging server runs with it on), in the body and in the headers "
            "alike. Log the exception (logger.exception) and answer a fixed message such as "
            '"Something went wrong on our side."',
        )
        logged = [record for record in caplog.records if record.exc_info and record.exc_info[1] is error]
        check(
            bool(logged),
            f"The 500 answer to a {kind} hides the cause from the client, but nothing logged it with its "
            "traceback: the team learns of the failure only from the clients. Log it in the handler: "
            "logger.exception(...).",
        )


@pytest.mark.contract(3)
@pytest.mark.lesson("API-3")
@pytest.mark.parametrize("invoice_id", ["0", "-1", str(2**63), str(2**64)], ids=["zero", "negative", "2_63", "2_64"])
def test_an_invoice_id_the_column_cannot_hold_is_refused_in_the_envelope(client: Client, invoice_id: str) -> None:
    """An invoice ID no invoice can have (0, negative, 2^63 or more) answers 404 or 422 in the envelope, never 500"""
    api_key = ApiKeyFactory.create(can_write=True)
    client.raise_request_exception = False  # a crash answers 500, as in production

    for method, url in (("GET", f"/api/v1/invoices/{invoice_id}"), ("POST", f"/api/v1/invoices/{invoice_id}/void")):
        response = client.generic(method, url, headers=headers(api_key))
        problems = shape_problems(response)
        code = response.json().get("code") if not problems else None
        check(
            (response.status_code, code) in {(404, "invoice_not_found"), (422, "validation_error")},
            f"{method} {url} answered {response.status_code} ({response.content.decode(errors='replace')[:160]}). "
            "No invoice can have this ID (the column holds 1 to 2^63 - 1): answer 404 invoice_not_found, as "
            "for any unknown invoice, or 422 validation_error for a path parameter out of range, in the "
            "envelope. Never a 500: the input is the client's, and a 500 tells them the fault is ours. Bound the "
            "path parameter (Path(ge=1, le=2**63 - 1)) so that the database never sees it.",
        )


# --- generated requests over the OpenAPI schema of the kata's NinjaAPI ---

SCENARIO_SECONDS = 120  # 60 requests: more than one check's usual time on a loaded machine
#: the code the README documents for each status
CODES = {
    400: {"bad_request"},
    401: {"not_authenticated"},
    403: {"permission_denied"},
    404: {"invoice_not_found", "not_found"},
    405: {"method_not_allowed"},
    409: {"invoice_already_paid"},
    422: {"validation_error"},
}
_SAFE_TEXT = st.text(alphabet=st.characters(blacklist_characters="/?#", blacklist_categories=["Cs"]), max_size=12)
#: characters no valid value holds: NUL (which PostgreSQL cannot hold in text), other control characters,
#: white space of other kinds, a byte order mark, a character beyond the BMP, and any other one ("/", "?"
#: and "#" aside, which would take a path parameter out of the API's URLs)
_ODD = st.one_of(
    st.sampled_from(["\x00", "\x01", "\x1b", "\x7f", "\t", "\n", " ", "\x85", "\xa0", "\xff", "\u2028", "\ufeff"]),
    st.sampled_from(["\U0001f600", "\uffff", "\U0010ffff"]),
    st.characters(exclude_characters="/?#", exclude_categories=["Cs"]),
)
#: what a header can hold: a server hands the application its bytes as Latin-1 (PEP 3333), U+0000 to U+00FF
_ODD_IN_A_HEADER = st.one_of(
    st.sampled_from(["\x00", "\x01", "\x7f", "\t", " ", "\x85", "\xa0", "\xff"]), st.characters(max_codepoint=0xFF)
)
#: a JSON string can also carry a lone surrogate, written as an escape (\\ud800)
_ODD_IN_JSON = st.one_of(_ODD, st.characters(categories=["Cs"]))


@st.composite
def with_odd_characters(draw: st.DrawFn, valid: str, odd: st.SearchStrategy[str]) -> str:
    """`valid` with one to three odd characters put inside it (never at an end, where a server may trim)."""
    text = valid
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(1, len(text) - 1))
        text = text[:at] + draw(odd) + text[at:]
    return text


_ANY_VALUE = st.one_of(
    st.integers(-(2**64), 2**64),
    st.sampled_from([0, 1, 2**31 - 1, 2**31, 2**63 - 1, 2**63, -1]),
    _SAFE_TEXT,
    st.sampled_from(["EUR", "USD", "CHF", "ap@acme.test", "ap@acme", "ap\x00@acme.test", "2026", "13", "\x00", ""]),
    st.text(_ODD, min_size=1, max_size=6),
    with_odd_characters("ap@acme.test", _ODD),
    with_odd_characters("EUR", _ODD),
    with_odd_characters("2026", _ODD),
    st.none(),
    st.booleans(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.lists(st.integers(), max_size=2),
)
#: a path or query parameter: any value as text, or any bytes, percent-encoded (invalid UTF-8 and NUL included)
_URL_VALUE = st.one_of(_ANY_VALUE.map(str), st.binary(min_size=1, max_size=6).filter(lambda raw: b"/" not in raw))
#: a value of a JSON body
_BODY_VALUE = st.one_of(
    _ANY_VALUE, st.text(_ODD_IN_JSON, min_size=1, max_size=6), with_odd_characters("ap@acme.test", _ODD_IN_JSON)
)


def the_api() -> NinjaAPI:
    from error_envelope import api as module

    apis = [value for value in vars(module).values() if isinstance(value, NinjaAPI)]
    check(len(apis) == 1, f"error_envelope/api.py defines {len(apis)} NinjaAPI objects; the kata has one, `api`.")
    return apis[0]


def operations() -> list[tuple[str, str, dict[str, Any]]]:
    """Every operation of the OpenAPI schema: (method, path template, operation)."""
    document = the_api().get_openapi_schema()
    return [
        (method.upper(), path, operation)
        for path, methods in sorted(document.get("paths", {}).items())
        for method, operation in sorted(methods.items())
        if isinstance(operation, dict)
    ]


@st.composite
def api_requests(draw: st.DrawFn) -> dict[str, Any]:
    """A request to any operation of the API: any key, any method, path, query and body, valid or not."""
    method, template, operation = draw(st.sampled_from(operations()))
    if draw(st.integers(0, 5)) == 0:
        method = draw(st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE"]))
    parameters = operation.get("parameters", [])
    path = template
    for parameter in (p for p in parameters if p.get("in") == "path"):
        value = draw(st.one_of(st.just("{own}"), st.just("{other}"), _URL_VALUE))
        path = path.replace("{" + parameter["name"] + "}", quote(value, safe="{}") or "x")
    query = {p["name"]: draw(_URL_VALUE) for p in parameters if p.get("in") == "query" and draw(st.integers(0, 4))}
    body: object = None
    if "requestBody" in operation or draw(st.integers(0, 5)) == 0:
        fields = ["customer_email", "total_cents", "currency", "organization_id", "status"]
        body = draw(
            st.one_of(
                st.dictionaries(st.sampled_from(fields), _BODY_VALUE, max_size=5),
                st.fixed_dictionaries(
                    {
                        "customer_email": st.one_of(
                            st.sampled_from(["ap@acme.test", "ap\x00@acme.test"]),
                            with_odd_characters("ap@acme.test", _ODD_IN_JSON),
                        ),
                        "total_cents": st.one_of(st.integers(1, 2**31 - 1), _BODY_VALUE),
                        "currency": st.one_of(st.just("EUR"), with_odd_characters("EUR", _ODD_IN_JSON)),
                    }
                ),
                st.sampled_from(['{"total_cents": ', "[]", '"x"', "null", ""]),
            )
        )
    key = draw(st.sampled_from(["write", "read", "unknown", "NUL", "none", "odd"]))
    # a key of ours, or an unknown one, with odd characters put inside it: (where, as a fraction, what)
    spoiled = draw(st.sampled_from(["write", "read", "unknown"])) if key == "odd" else None
    odd_character = st.one_of(st.just("\x00"), _ODD_IN_A_HEADER)  # a NUL half the time: the one PostgreSQL refuses
    odd = draw(st.lists(st.tuples(st.floats(0, 1), odd_character), min_size=1, max_size=3)) if spoiled else []
    return {
        "method": method,
        "template": template,
        "path": path,
        "query": query,
        "body": body,
        "key": key,
        "spoiled": spoiled,
        "odd": odd,
    }


def spoil(key: str, odd: list[tuple[float, str]]) -> str:
    """`key` with each odd character put inside it, at its place as a fraction of the key's length."""
    for where, character in odd:
        at = 1 + int(where * (len(key) - 2))
        key = key[:at] + character + key[at:]
    return key


def methods_of(template: str) -> set[str]:
    """The methods the API answers on this path."""
    return {method for method, path, _ in operations() if path == template}


@pytest.mark.lesson("API-3")
@pytest.mark.contract(1, 2, 3)
@pytest.mark.timeout(SCENARIO_SECONDS)
@scenarios(60)
@given(request=api_requests())
def test_every_error_of_every_route_answers_the_envelope_and_never_500(client: Client, request: dict[str, Any]) -> None:
    """Generated requests to every route of the OpenAPI schema: each error answers the envelope with its code"""
    client.raise_request_exception = False  # a crash answers 500, as in production
    with rolled_back():
        writer = ApiKeyFactory.create(can_write=True)
        reader = ApiKeyFactory.create(can_write=False, organization=writer.organization)
        own = InvoiceFactory.create(organization=writer.organization, status=Invoice.Status.PAID)
        other = InvoiceFactory.create()
        keys = {
            "write": writer.key,
            "read": reader.key,
            "unknown": "key_unknown",
            "NUL": "key_\x00unknown",  # PostgreSQL's driver refuses to send a NUL
        }
        if request["spoiled"]:
            keys["odd"] = spoil(keys[request["spoiled"]], request["odd"])
        key = keys.get(request["key"])
        path = request["path"].replace("{own}", str(own.pk)).replace("{other}", str(other.pk))
        url = path + ("?" + urlencode(request["query"]) if request["query"] else "")
        body = request["body"]
        text = body if isinstance(body, str) else ("" if body is None else json.dumps(body))
        response = client.generic(
            request["method"], url, text, content_type="application/json", headers={"X-API-Key": key} if key else {}
        )
    whose = {"write": "a write key", "read": "a read-only key"}.get(request["key"], "an unknown key")
    asked = (
        f"{request['method']} {url} with "
        + (f"{whose}, {key!r}," if key else "no API key")
        + (f" and the body {text}" if text else "")
    )
    shown = " ".join(response.content.decode(errors="replace").split())[:200]
    sent = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)
    nul = "\x00" in f"{unquote(url)}{key}{sent}"
    check(
        response.status_code != 500,
        f"{asked} answered 500 ({shown}). Nothing went wrong on our side: the request was the client's "
        "mistake, and the README gives it a 4xx (422 for invalid input, 404 for an ID no invoice has, 401 for a "
        "key that is not ours). A 500 tells the client to retry, and pages whoever is on call."
        + (NUL_TO_THE_DATABASE if nul else ""),
    )
    if request["key"] not in ("write", "read"):
        allowed = methods_of(request["template"])
        check(
            response.status_code == 401 or (response.status_code == 405 and request["method"] not in allowed),
            f"{asked} answered {response.status_code} ({shown}). "
            + (f"No key of ours is {key!r}" if key else "It has no API key")
            + (f" (ours is {keys[request['spoiled']]!r})" if request["spoiled"] in ("write", "read") else "")
            + ": the README answers 401 not_authenticated for a missing or unknown key, whatever else the request "
            "holds (only a method the path does not have answers 405 first). Compare the key exactly as it was "
            "sent, without trimming or cleaning it, and refuse a key with a NUL character before the lookup."
            + (NUL_TO_THE_DATABASE if nul else ""),
        )
    if response.status_code < 400:
        return
    problems = shape_problems(response)
    check(
        not problems,
        f"{asked} answered {response.status_code} with:\n    {shown}\nbut {'; '.join(problems)}. Every error "
        f"of every route answers the documented envelope {ENVELOPE}. {HOW}",
    )
    code = response.json()["code"]
    check(
        code in CODES.get(response.status_code, set()),
        f"{asked} answered {response.status_code} with the code {code!r}. The README documents "
        f"{' or '.join(sorted(CODES.get(response.status_code, {'no code'})))} for a {response.status_code}: "
        "clients branch on the code.",
    )
    if response.status_code == 422:
        check(
            bool(response.json()["details"]),
            f"{asked} answered 422 with no details: each invalid field is listed, by its path as the client sent it.",
        )
    told = revealed(response)
    check(
        not told,
        f"{asked} answered {response.status_code} {code}, and the answer tells how the API works inside: "
        + "; ".join(told[:4])
        + ". "
        + REVEAL_NOTHING,
    )


NUL_TO_THE_DATABASE = (
    " The request holds a NUL character, which PostgreSQL cannot hold or compare in text: its driver raises "
    "DataError when a query's parameter holds one (graded so on SQLite too). Refuse it where it comes in: a "
    "pattern on the body's text fields, a check of the API key before the lookup."
)


# --- what no answer tells, in its body or its headers ---

#: the exception classes behind the API's errors: the kata's, Django's, Ninja's, pydantic's, the database
#: driver's and Python's own; their names are internals, in the body and in a header alike
INTERNAL_CLASS_NAMES = (
    "InvoiceNotFoundError",
    "InvoiceAlreadyPaidError",
    "PermissionDenied",
    "ObjectDoesNotExist",
    "DoesNotExist",
    "Http404",
    "HttpError",
    "AuthenticationError",
    "ValidationError",
    "OperationalError",
    "IntegrityError",
    "ProgrammingError",
    "DatabaseError",
    "DataError",
    "ValueError",
    "TypeError",
    "KeyError",
    "AttributeError",
    "RuntimeError",
)
#: what a traceback, a file path or a statement looks like
INTERNAL_TRACES = ("Traceback", 'File "', ".py", "site-packages", "SELECT ", "INSERT INTO", "UPDATE ", "DELETE FROM")
#: the parts of INTERNAL_ERROR, the text the grader's unexpected errors carry
INTERNAL_ERROR_PARTS = ("db-primary", "10.0.3.7", "5432", "invalid literal", "unsupported operand")


def whole_answer(response: "TestResponse") -> dict[str, str]:
    """Every part of an answer a client reads: its reason phrase, each header (name and value) and its body."""
    parts = {"the reason phrase": str(response.reason_phrase)}
    parts |= {f"the header {name}": f"{name}: {value}" for name, value in response.items() if name != "Content-Length"}
    parts["the body"] = response.content.decode(errors="replace")
    return parts


def revealed(response: "TestResponse", error: BaseException | None = None) -> list[str]:
    """What the answer tells of the inside, and where: exception classes, tracebacks, paths, SQL, the error's text."""
    names = set(INTERNAL_CLASS_NAMES)
    if error is not None:
        # the error's class and those it derives from, but for the bare "Error" of DB-API (in "Internal Server Error")
        names |= {kind.__name__ for kind in type(error).__mro__[:-3] if kind.__name__ != "Error"}
    markers = [*sorted(names), *INTERNAL_TRACES, *(INTERNAL_ERROR_PARTS if error is not None else ())]
    return [
        f"{marker!r} in {where}"
        for where, text in whole_answer(response).items()
        for marker in markers
        if marker in text
    ]


REVEAL_NOTHING = (
    "An answer tells a client what they need to act on (the status, the code, a message for people) and "
    "nothing of the inside, in its body and in its headers alike (a header such as X-Error-Type reaches "
    "every client, proxy and log on the way): no exception class, traceback, file path, SQL or driver "
    "text. Log what the team needs (logger.exception) and build every error answer, headers included, "
    "in the same place."
)

#: valid values for the query parameters of the API's operations
VALID_QUERY = {"year": "2026", "month": "3", "currency": "EUR"}
#: the tables a request reads: the API key's (the authentication), then the invoices (the service)
FAILING_TABLES = {"the API key's": ApiKey, "the invoices'": Invoice}
#: unexpected errors of every kind: the database's, and bugs of ours; each carries internals in its text
UNEXPECTED_KINDS: dict[str, Callable[[str], Exception]] = {
    "OperationalError": OperationalError,
    "IntegrityError": IntegrityError,
    "ProgrammingError": ProgrammingError,
    "DataError": DataError,
    "ValueError": ValueError,
    "TypeError": TypeError,
    "KeyError": KeyError,
    "AttributeError": AttributeError,
    "RuntimeError": RuntimeError,
    "LedgerSyncError": lambda text: LedgerSyncError(text),
}


class LedgerSyncError(Exception):
    """A class of error no handler can know by name."""


@contextmanager
def table_fails(model: type[Model], error: Exception) -> Iterator[None]:
    """Every statement that reads or writes `model`'s table raises `error` while the block runs."""
    table = model._meta.db_table

    def fail(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        if table in sql:
            raise error
        return execute(sql, params, many, context)

    with connection.execute_wrapper(fail):
        yield


@st.composite
def failing_requests(draw: st.DrawFn) -> dict[str, Any]:
    """A valid request to any operation of the API, a table that fails under it, with which error, DEBUG on or off."""
    method, template, operation = draw(st.sampled_from(operations()))
    return {
        "method": method,
        "template": template,
        "operation": operation,
        "table": draw(st.sampled_from(sorted(FAILING_TABLES))),
        "kind": draw(st.sampled_from(sorted(UNEXPECTED_KINDS))),
        "statement": draw(st.sampled_from(["SELECT", "INSERT INTO", "UPDATE"])),
        "debug": draw(st.booleans()),
    }


@pytest.mark.lesson("API-3")
@pytest.mark.contract(1, 5)
@pytest.mark.timeout(SCENARIO_SECONDS)
@scenarios(40)
@given(failing=failing_requests())
def test_an_unexpected_error_on_any_route_reveals_nothing_anywhere_in_the_answer(
    client: Client, failing: dict[str, Any]
) -> None:
    """Generated: any route, a database or a bug failing under it: 500 internal_error, and nothing told, headers too"""
    client.raise_request_exception = False  # a crash answers 500, as in production
    operation: dict[str, Any] = failing["operation"]
    text = (
        f'{failing["statement"]} "error_envelope_invoice"."id" FROM "error_envelope_invoice" failed: {INTERNAL_ERROR}'
        f', in File "/srv/billing/error_envelope/services.py", line 61'
    )
    error = UNEXPECTED_KINDS[failing["kind"]](text)
    with rolled_back():
        api_key = ApiKeyFactory.create(can_write=True)
        invoice = InvoiceFactory.create(organization=api_key.organization)
        path = failing["template"]
        query: dict[str, str] = {}
        for parameter in operation.get("parameters", []):
            if parameter.get("in") == "path":
                path = path.replace("{" + parameter["name"] + "}", str(invoice.pk))
            elif parameter.get("in") == "query" and parameter["name"] in VALID_QUERY:
                query[parameter["name"]] = VALID_QUERY[parameter["name"]]
        url = path + ("?" + urlencode(query) if query else "")
        body = json.dumps(NEW_INVOICE) if "requestBody" in operation else ""
        with table_fails(FAILING_TABLES[failing["table"]], error), override_settings(DEBUG=failing["debug"]):
            response = client.generic(
                failing["method"], url, body, content_type="application/json", headers=headers(api_key)
            )
    asked = (
        f"{failing['method']} {url}, while every query of {failing['table']} table raised {failing['kind']}"
        f"{' with DEBUG on' if failing['debug'] else ''}"
    )
    check_envelope(response, request=asked, status=500, code="internal_error")
    told = revealed(response, error)
    check(
        not told,
        f"{asked}, answered 500 internal_error, but the answer tells what went wrong inside: "
        + "; ".join(told[:4])
        + f".\n    {' | '.join(f'{where}: {part[:120]}' for where, part in whole_answer(response).items())}\n"
        + REVEAL_NOTHING,
    )
