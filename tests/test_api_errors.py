"""The shared error envelope answers every error of an API in one shape, with no 500 for bad input."""

import json
from typing import Annotated, Any

import pydantic
import pytest
from django.test import Client
from ninja import Field, Schema

from dojo import api_errors

pytestmark = pytest.mark.urls("tests.api_errors_sample.urls")


def envelope(response: object) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(response.content)  # type: ignore[attr-defined]
    assert set(body) == {"code", "message", "details"}, body
    return body


@pytest.mark.parametrize(
    ("invoice_id", "status", "code"),
    [("404", 404, "not_found"), ("403", 403, "permission_denied"), ("409", 409, "conflict")],
)
def test_errors_raised_by_the_code_answer_in_the_envelope(invoice_id: str, status: int, code: str) -> None:
    response = Client().get(f"/api/v1/invoices/{invoice_id}")
    assert (response.status_code, envelope(response)["code"]) == (status, code)


def test_a_crash_answers_500_in_the_envelope_and_reveals_nothing() -> None:
    response = Client(raise_request_exception=False).get("/api/v1/invoices/500")
    body = envelope(response)
    assert (response.status_code, body["code"]) == (500, "internal_error")
    assert "hunter2" not in response.content.decode()


@pytest.mark.parametrize("invoice_id", ["0", str(2**63), "99999999999999999999999", "abc"])
def test_an_id_out_of_range_is_a_422_naming_the_field(invoice_id: str) -> None:
    response = Client().get(f"/api/v1/invoices/{invoice_id}")
    body = envelope(response)
    assert (response.status_code, body["code"]) == (422, "validation_error")
    assert [detail["field"] for detail in body["details"]] == ["invoice_id"]


def test_nested_fields_are_named_by_their_whole_path() -> None:
    payload = {"note": "a\x00b", "lines": [{"amount_cents": 5}, {"amount_cents": -1}]}
    response = Client().post("/api/v1/invoices", payload, content_type="application/json")
    body = envelope(response)
    assert response.status_code == 422
    assert sorted(detail["field"] for detail in body["details"]) == ["lines.1.amount_cents", "note"]


def test_a_body_that_is_not_json_is_a_400_in_the_envelope() -> None:
    response = Client().post("/api/v1/invoices", "{not json", content_type="application/json")
    assert (response.status_code, envelope(response)["code"]) == (400, "bad_request")


def test_a_method_the_path_does_not_have_is_a_405_in_the_envelope() -> None:
    response = Client().delete("/api/v1/invoices/1")
    assert (response.status_code, envelope(response)["code"]) == (405, "method_not_allowed")
    assert response["Allow"] == "GET"


# an address without white space: it lets a NUL character through, so that refusing one is Text's work
ADDRESS = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


class EmailAfterText(Schema):
    email: api_errors.Text = Field(max_length=254, pattern=ADDRESS)


class EmailAroundText(Schema):
    email: Annotated[api_errors.Text, Field(pattern=ADDRESS)]


@pytest.mark.parametrize("schema", [EmailAfterText, EmailAroundText], ids=["pattern_after", "pattern_around"])
@pytest.mark.parametrize(
    ("email", "valid"),
    [("ap@acme.test", True), ("accounts payable", False), ("ap\x00@acme.test", False)],
    ids=["address", "not_an_address", "nul"],
)
def test_a_pattern_of_a_text_field_applies_with_the_nul_check(schema: type[Schema], email: str, valid: bool) -> None:
    try:
        schema.model_validate({"email": email})
        accepted = True
    except pydantic.ValidationError:
        accepted = False
    assert accepted == valid, f"{schema.__name__} {'accepted' if accepted else 'refused'} {email!r}"


def test_the_openapi_schema_shows_a_texts_own_pattern_or_the_nul_check() -> None:
    class Note(Schema):
        note: api_errors.Text

    assert Note.model_json_schema()["properties"]["note"]["pattern"] == api_errors.NUL_FREE_PATTERN
    assert EmailAfterText.model_json_schema()["properties"]["email"]["pattern"] == ADDRESS
