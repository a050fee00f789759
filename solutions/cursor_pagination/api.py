from base64 import urlsafe_b64decode, urlsafe_b64encode
from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import urlencode

from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import path
from ninja import Field, NinjaAPI, Query, Router, Schema
from ninja.errors import ValidationError
from ninja.pagination import LimitOffsetPagination, paginate
from pydantic import AfterValidator, AwareDatetime

from dojo import api_errors
from dojo.api_errors import DatabaseId, Text

from . import services
from .models import Invoice

# Authentication and authorization are left out of this kata to keep it short.

PAGE_SIZE = 20
MAX_PAGE_SIZE = 50


class InvoiceOut(Schema):
    id: int
    number: str
    status: str
    total_cents: int
    currency: str
    created_at: datetime


class InvoicePageOut(Schema):
    results: list[InvoiceOut]
    next: str | None = Field(description="The URL of the next page; null on the last page")


class PageIn(Schema):
    cursor: Text | None = Field(None, max_length=200, description="From the `next` link of the previous page")
    page_size: int = Field(PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE)


def in_utc(moment: datetime) -> datetime:
    """The instant in UTC, as the database compares it; one that is not in years 1 to 9999 there is refused."""
    try:
        return moment.astimezone(UTC)
    except OverflowError as error:  # e.g. 9999-12-31T23:00-05:00, which is in the year 10000 in UTC
        raise ValueError("Not an instant the database can hold.") from error


class Cursor(Schema):
    """What a `next` link carries: the position of the last invoice sent, as url-safe base64 JSON."""

    created_at: Annotated[AwareDatetime, AfterValidator(in_utc)]
    id: DatabaseId

    @classmethod
    def of(cls, position: services.Position) -> str:
        text = cls(created_at=position.created_at, id=position.id).model_dump_json()
        return urlsafe_b64encode(text.encode()).decode()

    @classmethod
    def position(cls, token: str) -> services.Position:
        try:
            cursor = cls.model_validate_json(urlsafe_b64decode(token.encode("ascii")))
        except ValueError as error:  # not base64, not JSON, or not a position: not a cursor we gave
            detail = {"loc": ("query", "cursor"), "msg": "Not a cursor from a `next` link."}
            raise ValidationError([detail]) from error
        return services.Position(cursor.created_at, cursor.id)


class AdminInvoiceOut(InvoiceOut):
    organization: str

    @staticmethod
    def resolve_organization(invoice: Invoice) -> str:
        return invoice.organization.name


class StatusOut(Schema):
    value: str
    label: str


class BoundedLimitOffsetPagination(LimitOffsetPagination):
    """Ninja's limit/offset, with an offset the database can take (Ninja sets no upper bound: a 500)."""

    class Input(Schema):
        limit: int = Field(MAX_PAGE_SIZE, ge=1, description=f"At most {MAX_PAGE_SIZE}")
        offset: int = Field(0, ge=0, le=api_errors.BIGINT_MAX)


router = Router(tags=["invoices"])


@router.get("/organizations/{organization_id}/invoices", response=InvoicePageOut)
def list_invoices(request: HttpRequest, organization_id: DatabaseId, page: Query[PageIn]) -> InvoicePageOut:
    """The customer portal's invoice list: the organization's invoices, newest first, a page at a time.

    The cursor is a position in the order, (created_at, id) of the last invoice sent, not a count of
    rows: invoices created while a client pages, and any number of invoices sharing one created_at,
    change nothing about where the next page starts.
    """
    after = Cursor.position(page.cursor) if page.cursor else None
    found = services.organization_invoice_page(organization_id, after=after, size=page.page_size)
    next_url = None
    if found.next is not None:
        query = urlencode({"cursor": Cursor.of(found.next), "page_size": page.page_size})
        next_url = request.build_absolute_uri(f"{request.path}?{query}")
    return InvoicePageOut(results=[InvoiceOut.from_orm(invoice) for invoice in found.invoices], next=next_url)


@router.get("/admin/invoices", response=list[AdminInvoiceOut])
# Limit/offset for the back-office table: it jumps to any page and shows a total (one COUNT query).
@paginate(BoundedLimitOffsetPagination, max_limit=MAX_PAGE_SIZE)
def list_all_invoices(request: HttpRequest) -> QuerySet[Invoice]:
    """The back-office table: every organization's invoices, by number."""
    return services.all_invoices()


@router.get("/invoice-statuses", response=list[StatusOut])
def list_invoice_statuses(request: HttpRequest) -> list[services.StatusChoice]:
    """Not paginated on purpose: a small static enumeration is API-4's explicit opt-out."""
    return services.invoice_statuses()


api = NinjaAPI(urls_namespace="cursor_pagination")
api_errors.install(api)
api.add_router("/api/v1/", router)

urlpatterns = [path("", api_errors.urls(api))]
