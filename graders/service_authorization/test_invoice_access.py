"""Grader of `service_authorization`: the service decides who may see an invoice, for every entry point."""

import inspect

import pytest
from django.test import Client

from dojo.grading import check
from service_authorization.models import Invoice, Member, Organization
from service_authorization.services import InvoiceNotFoundError, get_invoice

from .factories import InvoiceFactory, MemberFactory, MembershipFactory, OrganizationFactory

pytestmark = [pytest.mark.django_db, pytest.mark.urls("service_authorization.api")]

ENDPOINTS = {
    "the invoice page": "/api/v1/invoices/{id}",
    "the mobile summary": "/api/v1/invoices/{id}/summary",
}
ENDPOINT_URLS = pytest.mark.parametrize("url", ENDPOINTS.values(), ids=["page", "summary"])
NOT_FOUND = {"detail": "Invoice not found."}


def member_of(*organizations: Organization) -> Member:
    member = MemberFactory()
    for organization in organizations:
        MembershipFactory(member=member, organization=organization)
    return member


def invoice_of(organization: Organization) -> Invoice:
    return InvoiceFactory(customer__organization=organization, customer__name="Acme GmbH")


def get_as(client: Client, member: Member | None, url: str) -> tuple[int, object]:
    headers = {} if member is None else {"X-User-Id": str(member.pk)}
    response = client.get(url, headers=headers)
    return response.status_code, response.json()


# --- who gets what: unchanged by the lesson ---


def test_a_member_reads_their_organizations_invoice(client: Client) -> None:
    organization = OrganizationFactory()
    invoice = invoice_of(organization)
    member = member_of(organization)

    page = get_as(client, member, ENDPOINTS["the invoice page"].format(id=invoice.pk))
    summary = get_as(client, member, ENDPOINTS["the mobile summary"].format(id=invoice.pk))

    assert page == (
        200,
        {
            "id": invoice.pk,
            "number": invoice.number,
            "customer_name": "Acme GmbH",
            "amount_due_cents": 49_900,
            "status": "open",
            "due_on": "2026-04-30",
        },
    )
    assert summary == (200, {"number": invoice.number, "amount_due_cents": 49_900, "status": "open"})


def test_a_member_of_several_organizations_reads_the_invoices_of_each(client: Client) -> None:
    first, second = OrganizationFactory.create_batch(2)
    member = member_of(first, second)

    for invoice in (invoice_of(first), invoice_of(second)):
        for url in ENDPOINTS.values():
            assert get_as(client, member, url.format(id=invoice.pk))[0] == 200


@ENDPOINT_URLS
def test_a_caller_who_is_not_a_member_at_all_gets_401(client: Client, url: str) -> None:
    invoice = invoice_of(OrganizationFactory())

    for headers in ({}, {"X-User-Id": "987654"}, {"X-User-Id": "not-a-number"}):
        assert client.get(url.format(id=invoice.pk), headers=headers).status_code == 401


@ENDPOINT_URLS
def test_an_unknown_invoice_answers_404(client: Client, url: str) -> None:
    member = member_of(OrganizationFactory())

    assert get_as(client, member, url.format(id=987654)) == (404, NOT_FOUND)


# --- the lesson ---


@pytest.mark.lesson("ARCH-6")
def test_every_endpoint_hides_another_organizations_invoice(client: Client) -> None:
    invoice = invoice_of(OrganizationFactory())
    outsider = member_of(OrganizationFactory())  # a member, signed in, of another organization

    answers = {name: get_as(client, outsider, url.format(id=invoice.pk)) for name, url in ENDPOINTS.items()}

    leaks = {name: answer for name, answer in answers.items() if answer != (404, NOT_FOUND)}
    check(
        not leaks,
        f"A signed-in member of another organization asked for invoice {invoice.number} (ID {invoice.pk}), and "
        + "; ".join(f"{name} answered {status} {body}" for name, (status, body) in leaks.items())
        + f". Every entry point must answer 404 {NOT_FOUND}, exactly as for an invoice that does not exist, "
        "so that nobody learns which IDs are in use. One endpoint checks membership and the other forgot: "
        "move the check into the service, get_invoice(), which every endpoint already calls.",
    )


@pytest.mark.lesson("ARCH-6")
def test_the_service_refuses_a_non_member() -> None:
    organization = OrganizationFactory()
    invoice = invoice_of(organization)
    check(
        "member" in inspect.signature(get_invoice).parameters,
        "get_invoice() does not know who is asking: it has no `member` parameter, so it hands any "
        "organization's invoice to whoever calls it, and each endpoint, job or command has to remember "
        "its own check (the mobile summary forgot). Give the service the member, "
        "`get_invoice(invoice_id, *, member: Member)`, and let it refuse non-members.",
    )
    outsider = member_of(OrganizationFactory())

    try:
        leaked: object = get_invoice(invoice.pk, member=outsider)
    except InvoiceNotFoundError:
        leaked = None
    except Exception as error:  # reported to the learner
        leaked = error

    check(
        leaked is None,
        f"get_invoice({invoice.pk}, member=<a member of another organization>) "
        f"{'raised ' + repr(leaked) if isinstance(leaked, Exception) else 'returned invoice ' + str(leaked)}. "
        "The service must refuse a non-member with InvoiceNotFoundError, the error it raises for an "
        "unknown ID: then every caller, today's endpoints and tomorrow's, gets the check and the API "
        "answers 404 for both.",
    )
    insider = member_of(organization)
    check(
        get_invoice(invoice.pk, member=insider) == invoice,
        "A member of the invoice's organization must still get the invoice from get_invoice().",
    )
