"""Grader of `error_envelope`: every error answers one documented JSON envelope, and a 500 reveals nothing."""

import json
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import OperationalError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.test import Client

from dojo.grading import check, fails_once_when_saved, unexpected_edits
from dojo.manifest import kata_by_slug
from error_envelope.models import ApiKey, Invoice

from .factories import ApiKeyFactory, InvoiceFactory

pytestmark = [pytest.mark.django_db, pytest.mark.urls("error_envelope.api")]

ENVELOPE = '{"code": ..., "message": ..., "details": [...]}'
HOW = (
    "Build every error body in one place: exception handlers on the NinjaAPI "
    "(`@api.exception_handler(SomeError)`), for our domain exceptions, Django's PermissionDenied, "
    "Ninja's HttpError and ValidationError, and Exception for everything else."
)
# what the database driver said when it failed: none of it may reach the caller
INTERNAL_ERROR = 'connection to server at "db-primary.billing.internal" (10.0.3.7), port 5432 failed'


def headers(api_key: ApiKey) -> dict[str, str]:
    return {"X-API-Key": api_key.key}


def shape_problems(response: HttpResponse) -> list[str]:
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


def check_envelope(response: HttpResponse, *, request: str, status: int, code: str) -> dict[str, Any]:
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


def database_fails_when_an_invoice_is_saved() -> AbstractContextManager[None]:
    """The database connection drops while the invoice is written, once."""
    return fails_once_when_saved(Invoice, OperationalError(INTERNAL_ERROR))


# --- what the API does when nothing goes wrong: unchanged ---


def test_an_api_key_reads_an_invoice_of_its_organization(client: Client) -> None:
    api_key = ApiKeyFactory(can_write=False)
    invoice = InvoiceFactory(organization=api_key.organization, total_cents=4_990, currency="USD")

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


NEW_INVOICE = {"customer_email": "ap@acme.test", "total_cents": 12_000, "currency": "EUR"}


@pytest.mark.guard("API-3")
@pytest.mark.parametrize("total_cents", [1, 2**31 - 1], ids=["smallest", "largest"])
def test_totals_at_the_limits_are_accepted(client: Client, total_cents: int) -> None:
    """A total of one cent, and the largest the column holds, are valid"""
    api_key = ApiKeyFactory(can_write=True)

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


def test_a_write_key_creates_and_voids_invoices(client: Client) -> None:
    api_key = ApiKeyFactory(can_write=True)

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


def test_the_revenue_report_sums_the_months_paid_invoices(client: Client) -> None:
    """The revenue report sums the month's paid invoices."""
    api_key = ApiKeyFactory(can_write=False)
    march = datetime(2026, 3, 14, 10, 0, tzinfo=UTC)
    for total in (10_000, 2_500):
        InvoiceFactory(organization=api_key.organization, status=Invoice.Status.PAID, paid_at=march, total_cents=total)
    InvoiceFactory(
        organization=api_key.organization, status=Invoice.Status.PAID, paid_at=datetime(2026, 4, 1, tzinfo=UTC)
    )
    InvoiceFactory(organization=api_key.organization)  # open: not revenue
    InvoiceFactory(status=Invoice.Status.PAID, paid_at=march)  # another organization's

    response = client.get(
        "/api/v1/reports/revenue", {"year": 2026, "month": 3, "currency": "EUR"}, headers=headers(api_key)
    )

    assert response.status_code == 200
    assert response.json() == {"year": 2026, "month": 3, "currency": "EUR", "paid_invoices": 2, "total_cents": 12_500}


def test_refused_requests_change_nothing(client: Client) -> None:
    read_only = ApiKeyFactory(can_write=False)
    paid = InvoiceFactory(organization=read_only.organization, status=Invoice.Status.PAID)
    writer = ApiKeyFactory(can_write=True, organization=read_only.organization)

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


@pytest.mark.lesson("API-3")
def test_a_body_that_is_not_json_answers_400_in_the_envelope(client: Client) -> None:
    api_key = ApiKeyFactory(can_write=True)

    response = client.post(
        "/api/v1/invoices",
        '{"customer_email": "ap@acme.test",',
        content_type="application/json",
        headers=headers(api_key),
    )

    check_envelope(response, request="POST /api/v1/invoices with a truncated JSON body", status=400, code="bad_request")


@pytest.mark.lesson("API-3")
def test_a_missing_or_unknown_api_key_answers_401_in_the_envelope(client: Client) -> None:
    invoice = InvoiceFactory()
    url = f"/api/v1/invoices/{invoice.pk}"

    check_envelope(client.get(url), request=f"GET {url} without an API key", status=401, code="not_authenticated")
    check_envelope(
        client.get(url, headers={"X-API-Key": "key_live_unknown"}),
        request=f"GET {url} with an unknown API key",
        status=401,
        code="not_authenticated",
    )


@pytest.mark.lesson("API-3")
def test_a_read_only_key_answers_403_in_the_envelope(client: Client) -> None:
    api_key = ApiKeyFactory(can_write=False)
    invoice = InvoiceFactory(organization=api_key.organization)

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


@pytest.mark.lesson("API-3")
def test_unknown_invoice_ids_answer_404_in_the_envelope(client: Client) -> None:
    api_key = ApiKeyFactory(can_write=True)
    elsewhere = InvoiceFactory()  # another organization's invoice: as unknown to this key as a missing one

    for method, url in [
        ("GET", "/api/v1/invoices/999999"),
        ("GET", f"/api/v1/invoices/{elsewhere.pk}"),
        ("POST", "/api/v1/invoices/999999/void"),
        ("GET", f"/api/v1/invoices/{2**63 - 1}"),  # the largest id the column holds: valid, and unknown
    ]:
        response = client.generic(method, url, headers=headers(api_key))
        check_envelope(response, request=f"{method} {url}", status=404, code="invoice_not_found")


@pytest.mark.lesson("API-3")
def test_voiding_a_paid_invoice_answers_409_in_the_envelope(client: Client) -> None:
    api_key = ApiKeyFactory(can_write=True)
    invoice = InvoiceFactory(organization=api_key.organization, status=Invoice.Status.PAID)
    url = f"/api/v1/invoices/{invoice.pk}/void"

    body = check_envelope(
        client.post(url, headers=headers(api_key)),
        request=f"POST {url} (a paid invoice)",
        status=409,
        code="invoice_already_paid",
    )
    assert invoice.number in body["message"], "The message should still say which invoice is paid."


@pytest.mark.lesson("API-3")
@pytest.mark.parametrize(
    ("where", "method", "url", "data", "field"),
    [
        ("body", "POST", "/api/v1/invoices", {"customer_email": "ap@acme.test", "total_cents": "lots"}, "total_cents"),
        ("path", "GET", "/api/v1/invoices/latest", None, "invoice_id"),
        ("query", "GET", "/api/v1/reports/revenue?year=2026&month=13&currency=EUR", None, "month"),
        ("path", "GET", "/api/v1/invoices/0", None, "invoice_id"),
        ("path", "GET", f"/api/v1/invoices/{2**63}", None, "invoice_id"),
        ("body", "POST", "/api/v1/invoices", {**NEW_INVOICE, "total_cents": 0}, "total_cents"),
        ("body", "POST", "/api/v1/invoices", {**NEW_INVOICE, "total_cents": 2**31}, "total_cents"),
    ],
    ids=["body", "path", "query", "id_zero", "id_too_large", "total_zero", "total_too_large"],
)
def test_invalid_input_answers_422_in_the_envelope(
    client: Client, where: str, method: str, url: str, data: dict[str, object] | None, field: str
) -> None:
    api_key = ApiKeyFactory(can_write=True)
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


@pytest.mark.lesson("API-3")
def test_a_method_the_path_does_not_have_answers_405_in_the_envelope(client: Client) -> None:
    api_key = ApiKeyFactory(can_write=True)
    invoice = InvoiceFactory(organization=api_key.organization)
    url = f"/api/v1/invoices/{invoice.pk}"

    response = client.delete(url, headers=headers(api_key))

    check_envelope(response, request=f"DELETE {url}", status=405, code="method_not_allowed")
    check(
        response.get("Allow") == "GET",
        f"DELETE {url} answered 405 without saying which methods the path has (Allow: {response.get('Allow')}): "
        "keep the Allow header of Ninja's answer when you rewrite its body.",
    )


@pytest.mark.lesson("API-3")
@pytest.mark.parametrize("raised", ["DoesNotExist", "Http404"])
def test_a_lookup_that_finds_nothing_answers_404_in_the_envelope(
    client: Client, monkeypatch: pytest.MonkeyPatch, raised: str
) -> None:
    """A lookup that finds nothing (a DoesNotExist, get_object_or_404's Http404) answers 404 in the envelope"""
    api_key = ApiKeyFactory(can_write=False)
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


@pytest.mark.lesson("API-3")
def test_an_unexpected_error_answers_500_in_the_envelope_and_reveals_nothing(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    api_key = ApiKeyFactory(can_write=True)
    invoice = InvoiceFactory(organization=api_key.organization)
    url = f"/api/v1/invoices/{invoice.pk}/void"
    client.raise_request_exception = False  # answer as production does, instead of raising in the test

    with database_fails_when_an_invoice_is_saved():
        response = client.post(url, headers=headers(api_key))

    check_envelope(
        response,
        request=f"POST {url}, while the database failed (OperationalError)",
        status=500,
        code="internal_error",
    )
    content = response.content.decode(errors="replace")
    leaked = [part for part in ("db-primary", "10.0.3.7", "5432", "OperationalError", "Traceback") if part in content]
    check(
        not leaked,
        f"The 500 answer reveals what went wrong inside: it contains {leaked}.\n    {content[:200]}\nHost "
        "names, addresses and exception texts help an attacker and mean nothing to a client. Log the "
        "exception (logger.exception) and answer a fixed message such as "
        '"Something went wrong on our side."',
    )
    logged = [record for record in caplog.records if record.exc_info and record.exc_info[0] is OperationalError]
    check(
        bool(logged),
        "The 500 answer hides the cause from the client, but nothing logged it with its traceback: the "
        "team learns of the failure only from the clients. Log it in the handler: logger.exception(...).",
    )


@pytest.mark.guard("API-3")
def test_only_the_files_to_edit_were_changed() -> None:
    """Only the files this kata asks you to edit were changed"""
    files = kata_by_slug()["error_envelope"].files
    edited = unexpected_edits("error_envelope", files)
    check(
        not edited,
        f"You changed {', '.join(edited)}, which this kata asks you to leave as shipped (edit only "
        f"{', '.join(files)}; a new module of your own is fine). The grader grades the files as they are, "
        "and the lesson is in the files to edit: put the others back as shipped (`git diff` shows what "
        "you changed; `uv run dojo reset error_envelope` restores the whole kata, after a backup).",
    )
