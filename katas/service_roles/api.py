from collections.abc import Callable
from functools import wraps

from django.http import HttpRequest, HttpResponse
from django.urls import path
from ninja import NinjaAPI, Router, Schema
from ninja.errors import HttpError
from ninja.security import APIKeyHeader

from dojo import api_errors

from .models import Invoice, Member, Membership
from .services import InvoiceNotFoundError, InvoiceNotVoidableError, void_invoice


class MemberAuth(APIKeyHeader):
    """Coarse-grained: the caller is one of our members, or the request ends here with a 401.

    Our gateway signs users in and sets X-User-Id; the header is trusted only behind the gateway.
    """

    param_name = "X-User-Id"

    def authenticate(self, request: HttpRequest, key: str | None) -> Member | None:
        if key is None or not (key.isascii() and key.isdecimal()) or not 1 <= int(key) <= api_errors.BIGINT_MAX:
            return None  # not an ID the database can hold: nobody we know
        return Member.objects.filter(pk=int(key)).first()


class MemberRequest(HttpRequest):
    auth: Member  # set by MemberAuth before any endpoint runs


def admins_only(view: Callable[..., Invoice]) -> Callable[..., Invoice]:
    """Only billing admins may void invoices."""

    @wraps(view)
    def checked(request: MemberRequest, *args: object, **kwargs: object) -> Invoice:
        if not Membership.objects.filter(member=request.auth, role=Membership.Role.ADMIN).exists():
            raise HttpError(403, "Only an admin of the organization may void its invoices.")
        return view(request, *args, **kwargs)

    return checked


class InvoiceOut(Schema):
    id: int
    number: str
    status: str


router = Router(tags=["invoices"])


@router.post("/invoices/{invoice_id}/void", response=InvoiceOut)
@admins_only
def void(request: MemberRequest, invoice_id: api_errors.DatabaseId) -> Invoice:
    """The "Void" button of the invoice page, shown to billing admins."""
    return void_invoice(invoice_id, member=request.auth)


api = NinjaAPI(urls_namespace="service_roles", auth=MemberAuth())
api_errors.install(api)  # one error shape for every answer, and no 500 for bad input
api.add_router("/api/v1/", router)


@api.exception_handler(InvoiceNotFoundError)
def invoice_not_found(request: HttpRequest, exc: InvoiceNotFoundError) -> HttpResponse:
    return api.create_response(request, api_errors.error_body("not_found", "Invoice not found."), status=404)


@api.exception_handler(InvoiceNotVoidableError)
def invoice_not_voidable(request: HttpRequest, exc: InvoiceNotVoidableError) -> HttpResponse:
    return api.create_response(request, api_errors.error_body("conflict", str(exc)), status=409)


urlpatterns = [path("", api_errors.urls(api))]
