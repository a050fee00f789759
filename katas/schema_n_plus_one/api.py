from base64 import urlsafe_b64decode, urlsafe_b64encode
from datetime import date
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest
from django.urls import path
from ninja import Field, NinjaAPI, Query, Router, Schema
from ninja.errors import ValidationError

from dojo.api_errors import DatabaseId, ErrorOut, Text, install, urls

from . import services
from .models import Invoice

# Authentication and authorization are left out of this kata to keep it short.

PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


class InvoiceOut(Schema):
    number: str
    status: str
    issued_on: date | None
    customer_name: str
    line_count: int
    total_cents: int

    @staticmethod
    def resolve_customer_name(invoice: Invoice) -> str:
        return invoice.customer.name

    @staticmethod
    def resolve_line_count(invoice: Invoice) -> int:
        return len(invoice.lines.all())

    @staticmethod
    def resolve_total_cents(invoice: Invoice) -> int:
        return sum(line.amount_cents for line in invoice.lines.all())


class InvoicePageOut(Schema):
    results: list[InvoiceOut]
    next: str | None = Field(description="The URL of the next page; null on the last page")


class PageIn(Schema):
    cursor: Text | None = Field(None, max_length=200, description="From the `next` link of the previous page")
    page_size: int = Field(PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE)


class Cursor(Schema):
    """What a `next` link carries: the issue date and number of the last invoice sent, as url-safe base64 JSON."""

    issued_on: date
    number: Text = Field(max_length=32)

    @classmethod
    def of(cls, position: services.Position) -> str:
        text = cls(issued_on=position.issued_on, number=position.number).model_dump_json()
        return urlsafe_b64encode(text.encode()).decode()

    @classmethod
    def position(cls, token: str) -> services.Position:
        try:
            cursor = cls.model_validate_json(urlsafe_b64decode(token.encode("ascii")))
        except ValueError as error:  # not base64, not JSON, or not a position: not a cursor we gave
            detail = {"loc": ("query", "cursor"), "msg": "Not a cursor from a `next` link."}
            raise ValidationError([detail]) from error
        return services.Position(cursor.issued_on, cursor.number)


router = Router(tags=["invoices"])


@router.get("/organizations/{organization_id}/invoices", response={200: InvoicePageOut, 422: ErrorOut})
def list_invoices(request: HttpRequest, organization_id: DatabaseId, page: Query[PageIn]) -> dict[str, Any]:
    """The portal's invoice list: the organization's issued invoices, newest first, a page at a time.

    The invoices go back as model instances: InvoiceOut serializes them after this view has returned.
    """
    after = Cursor.position(page.cursor) if page.cursor else None
    found = services.invoice_page(services.issued_invoices(organization_id), after=after, size=page.page_size)
    next_url = None
    if found.next is not None:
        query = urlencode({"cursor": Cursor.of(found.next), "page_size": page.page_size})
        next_url = request.build_absolute_uri(f"{request.path}?{query}")
    return {"results": found.invoices, "next": next_url}


api = NinjaAPI(urls_namespace="schema_n_plus_one")
install(api)
api.add_router("/api/v1/", router)

urlpatterns = [path("", urls(api))]
