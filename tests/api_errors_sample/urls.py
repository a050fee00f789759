"""A small API that raises every kind of error, mounted the way the katas mount theirs."""

from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.http import HttpRequest
from django.urls import path
from ninja import NinjaAPI, Schema
from ninja.errors import HttpError

from dojo import api_errors


class LineIn(Schema):
    amount_cents: api_errors.DatabaseId


class InvoiceIn(Schema):
    note: api_errors.Text
    lines: list[LineIn]


api = NinjaAPI(urls_namespace="api_errors_sample")
api_errors.install(api)


@api.get("/api/v1/invoices/{invoice_id}")
def get_invoice(request: HttpRequest, invoice_id: api_errors.DatabaseId) -> dict[str, int]:
    if invoice_id == 404:
        raise ObjectDoesNotExist("no such invoice")
    if invoice_id == 403:
        raise PermissionDenied
    if invoice_id == 409:
        raise HttpError(409, "The invoice is already paid.")
    if invoice_id == 500:
        raise RuntimeError("the database password is hunter2")
    return {"id": invoice_id}


@api.post("/api/v1/invoices")
def create_invoice(request: HttpRequest, payload: InvoiceIn) -> dict[str, int]:
    return {"lines": len(payload.lines)}


urlpatterns = [path("", api_errors.urls(api))]
