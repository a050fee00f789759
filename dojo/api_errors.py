"""The one error format of every kata's API (API-3), and input types that keep bad input out of the database.

Every error an API answers is an `ErrorOut`: a stable `code` for programs, a `message` for people, and
`details` that name the fields at fault. `install(api)` makes a NinjaAPI answer every error that way,
including the ones Ninja and Django raise themselves; `urls(api)` also turns the 405 that Ninja answers
for a method a path does not have (plain text, outside the exception handlers) into the envelope.

The kata `error_envelope` teaches how such handlers are written; the other katas use this module, so
that outside their lesson their APIs are exemplary.
"""

import json
import logging
from collections.abc import Callable, Iterable
from functools import wraps
from typing import Annotated, Any

from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.urls import URLPattern, URLResolver
from ninja import Field, NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError, ValidationError
from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema

logger = logging.getLogger(__name__)

#: The largest value of a 64-bit signed integer column (`BigAutoField`, `BigIntegerField`).
BIGINT_MAX = 2**63 - 1

#: A row ID taken from a path or a body: a number the database can hold, so never an overflow (a 500).
DatabaseId = Annotated[int, Field(ge=1, le=BIGINT_MAX)]

#: What the OpenAPI schema says of a `Text` that declares no pattern of its own.
NUL_FREE_PATTERN = r"^[^\x00]*$"


def _without_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain a NUL character")
    return value


class _NoNul:
    """Refuses a NUL character as a validator of its own, not as the field's `pattern`.

    A field has one pattern: were this one, `email: Text = Field(pattern=...)` would keep one of the two
    and silently drop the other. As a validator both apply, in either order of declaration.
    """

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:  # noqa: ANN401 - pydantic's hook: the annotated type, any
        return core_schema.no_info_after_validator_function(_without_nul, handler(source))

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema.setdefault("pattern", NUL_FREE_PATTERN)
        return json_schema


#: Text from a request: no NUL character, which PostgreSQL cannot store in a text column. A pattern of
#: the field's own (`Field(pattern=...)`) applies as well.
Text = Annotated[str, _NoNul()]

LOCATIONS = ("body", "path", "query", "header", "cookie", "form", "file")
HTTP_ERROR_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    429: "too_many_requests",
}


class ErrorDetail(Schema):
    field: str
    message: str


class ErrorOut(Schema):
    """The one shape of every error: `{"code": …, "message": …, "details": [{"field": …, "message": …}]}`."""

    code: str
    message: str
    details: list[ErrorDetail] = []


def error_body(code: str, message: str, details: Iterable[ErrorDetail] = ()) -> dict[str, Any]:
    return ErrorOut(code=code, message=message, details=list(details)).model_dump()


def field_path(loc: Iterable[object]) -> str:
    """Ninja's error location as the field a client sent: ("body", "payload", "lines", 0, "amount") → "lines.0.amount".

    The first part says where the value came from (body, path, query…) and, for a body, the second
    names the view's parameter: neither is a field the client knows.
    """
    parts = [str(part) for part in loc]
    if parts and parts[0] in LOCATIONS:
        where = parts.pop(0)
        if where == "body" and parts:
            parts.pop(0)
        return ".".join(parts) or where
    return ".".join(parts) or "body"


def install(api: NinjaAPI) -> None:
    """Answer every error of `api` in the envelope: validation, HTTP errors, lookups, permissions, crashes."""

    def respond(
        request: HttpRequest, status: int, code: str, message: str, details: Iterable[ErrorDetail] = ()
    ) -> HttpResponse:
        return api.create_response(request, error_body(code, message, details), status=status)

    def validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
        details = [
            ErrorDetail(field=field_path(error.get("loc", ())), message=str(error.get("msg", "")))
            for error in exc.errors
        ]
        return respond(request, 422, "validation_error", "The request is not valid.", details)

    def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
        code = HTTP_ERROR_CODES.get(exc.status_code, "http_error")
        return respond(request, exc.status_code, code, str(exc) or code.replace("_", " ").capitalize() + ".")

    def authentication_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
        return respond(request, 401, "not_authenticated", "Authentication is required.")

    def not_found(request: HttpRequest, exc: Exception) -> HttpResponse:
        return respond(request, 404, "not_found", "Not found.")

    def permission_denied(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
        return respond(request, 403, "permission_denied", str(exc) or "You may not do this.")

    def unexpected_error(request: HttpRequest, exc: Exception) -> HttpResponse:
        # the cause goes to the logs with its traceback; the caller learns only that it was not their fault
        logger.exception("Unexpected error on %s %s", request.method, request.path)
        return respond(request, 500, "internal_error", "Something went wrong on our side. Please try again later.")

    # Ninja types a handler's exception as "the class or an instance of it": Any stands for that here
    handlers: dict[type[Exception], Callable[[HttpRequest, Any], HttpResponse]] = {
        ValidationError: validation_error,
        HttpError: http_error,
        AuthenticationError: authentication_error,
        Http404: not_found,
        ObjectDoesNotExist: not_found,
        PermissionDenied: permission_denied,
        Exception: unexpected_error,
    }
    for exception_class, handler in handlers.items():
        api.add_exception_handler(exception_class, handler)


def _enveloped(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @wraps(view)
    def answer(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        response = view(request, *args, **kwargs)
        if isinstance(response, HttpResponseNotAllowed):
            allowed = response["Allow"]
            body = error_body("method_not_allowed", f"{request.method} is not allowed here; use {allowed}.")
            enveloped = HttpResponse(json.dumps(body), status=405, content_type="application/json")
            enveloped["Allow"] = allowed
            return enveloped
        return response

    return answer


def urls(api: NinjaAPI) -> tuple[list[URLPattern | URLResolver], str, str]:
    """`api.urls`, with Ninja's plain-text 405 for a method a path does not have answered in the envelope."""
    patterns, app_name, namespace = api.urls
    wrapped: list[URLPattern | URLResolver] = []
    for pattern in patterns:
        if isinstance(pattern, URLPattern):
            pattern.callback = _enveloped(pattern.callback)
        wrapped.append(pattern)
    return wrapped, app_name, namespace
