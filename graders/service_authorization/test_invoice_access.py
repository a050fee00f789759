"""Grader of `service_authorization`: the service decides who may see an invoice, for every entry point."""

import ast
import inspect
import json
import re
from collections.abc import Callable
from functools import cache, partial
from operator import attrgetter
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from hypothesis import example, given
from hypothesis import strategies as st

from dojo.grading import check
from dojo.scenarios import reference, rolled_back, scenarios
from dojo.tenants import Answered, asked_invoice, invoice_in_words, narrated, replay, spellings
from service_authorization.models import Invoice, Member, Membership, Organization
from service_authorization.services import InvoiceNotFoundError, get_invoice

from .factories import InvoiceFactory, MemberFactory, MembershipFactory, OrganizationFactory, start_ids_apart

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.urls("service_authorization.api"),
    # a learner's deprecated but working call is reported, not failed
    pytest.mark.filterwarnings("default::DeprecationWarning"),
]

ENDPOINTS = {
    "the invoice page": "/api/v1/invoices/{id}",
    "the mobile summary": "/api/v1/invoices/{id}/summary",
}
ENDPOINT_URLS = pytest.mark.parametrize("url", ENDPOINTS.values(), ids=["page", "summary"])
NOT_FOUND = {"code": "not_found", "message": "Invoice not found.", "details": []}


def member_of(*organizations: Organization, email: str | None = None) -> Member:
    member = MemberFactory.create() if email is None else MemberFactory.create(email=email)
    for organization in organizations:
        MembershipFactory.create(member=member, organization=organization)
    return member


def invoice_of(organization: Organization, **fields: object) -> Invoice:
    return InvoiceFactory.create(customer__organization=organization, customer__name="Acme GmbH", **fields)


def get_as(
    client: Client, member: Member | None, url: str, extra_headers: dict[str, str] | None = None
) -> tuple[int, object]:
    headers = {} if member is None else {"X-User-Id": str(member.pk)}
    response = client.get(url, headers=headers | (extra_headers or {}))
    return response.status_code, response.json()


def outcome_of(invoice: Invoice, positional: Callable[[], Invoice] | None = None, **arguments: object) -> object:
    """What get_invoice(invoice.pk, **arguments) (or the `positional` call) did: the invoice, None for a
    refusal, or another exception."""
    try:
        # arguments of any kind, on purpose: none, member=None, flags, stand-in members
        return positional() if positional is not None else get_invoice(invoice.pk, **arguments)  # type: ignore[arg-type]
    except InvoiceNotFoundError:
        return None
    except Exception as error:  # reported to the learner
        return error


def told(outcome: object) -> str:
    if outcome is None:
        return "raised InvoiceNotFoundError, as for an invoice that does not exist (the refusal)"
    if isinstance(outcome, Exception):
        return f"raised {type(outcome).__name__}: {outcome}"
    return f"returned invoice {outcome}"


# --- who gets what: unchanged by the lesson ---


@pytest.mark.contract(1)
def test_a_member_reads_their_organizations_invoice(client: Client) -> None:
    """A member reads their organization's invoice."""
    organization = OrganizationFactory.create()
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


@pytest.mark.contract(1)
def test_a_member_of_several_organizations_reads_the_invoices_of_each(client: Client) -> None:
    first, second = OrganizationFactory.create_batch(2)
    member = member_of(first, second)

    for invoice in (invoice_of(first), invoice_of(second)):
        for url in ENDPOINTS.values():
            assert get_as(client, member, url.format(id=invoice.pk))[0] == 200


@pytest.mark.contract(3)
@ENDPOINT_URLS
def test_a_caller_who_is_not_a_member_at_all_gets_401(client: Client, url: str) -> None:
    invoice = invoice_of(OrganizationFactory.create())

    for headers in ({}, {"X-User-Id": "987654"}, {"X-User-Id": "not-a-number"}, {"X-User-Id": str(2**64)}):
        response = client.get(url.format(id=invoice.pk), headers=headers)
        assert (response.status_code, response.json()["code"]) == (401, "not_authenticated"), headers


@pytest.mark.contract(4)
@ENDPOINT_URLS
@pytest.mark.parametrize("invoice_id", ["0", str(2**63), "abc"])
def test_an_invoice_id_out_of_range_is_a_422(client: Client, url: str, invoice_id: str) -> None:
    member = member_of(OrganizationFactory.create())

    status, body = get_as(client, member, url.format(id=invoice_id))

    assert (status, body["code"]) == (422, "validation_error")  # type: ignore[index]


@pytest.mark.contract(2)
@ENDPOINT_URLS
def test_an_unknown_invoice_answers_404(client: Client, url: str) -> None:
    member = member_of(OrganizationFactory.create())

    assert get_as(client, member, url.format(id=987654)) == (404, NOT_FOUND)


# --- the lesson ---


@pytest.mark.contract(2)
@pytest.mark.lesson("ARCH-6")
def test_every_endpoint_hides_another_organizations_invoice(client: Client) -> None:
    """Every endpoint hides another organization's invoice."""
    organization, other = OrganizationFactory.create_batch(2)
    invoice = invoice_of(organization)
    member_of(organization)  # the invoice's organization has members of its own
    outsider = member_of(other)  # a member, signed in, of another organization

    # what a client may add to say which organization it acts for: nothing, its own, or the invoice's
    claims = {
        "": {},
        " (saying it acts for its own organization)": {"X-Organization-Id": str(other.pk)},
        " (saying it acts for the invoice's organization)": {"X-Organization-Id": str(organization.pk)},
    }
    answers = {
        name + claim + (", also in the query" if query else ""): get_as(
            client, outsider, url.format(id=invoice.pk) + query, headers
        )
        for name, url in ENDPOINTS.items()
        for claim, headers in claims.items()
        for query in ("", f"?organization_id={headers.get('X-Organization-Id', '')}")
        if query == "" or headers
    }

    leaks = {name: answer for name, answer in answers.items() if answer != (404, NOT_FOUND)}
    check(
        not leaks,
        f"A signed-in member of another organization asked for invoice {invoice.number} (ID {invoice.pk}), and "
        + "; ".join(f"{name} answered {status} {body}" for name, (status, body) in list(leaks.items())[:2])
        + (f" (and {len(leaks) - 2} more ways of asking)" if len(leaks) > 2 else "")
        + f". Every entry point must answer 404 {NOT_FOUND}, exactly as for an invoice that does not exist, "
        "so that nobody learns which IDs are in use. One endpoint checks membership and the other forgot: "
        "move the check into the service, get_invoice(), which every endpoint already calls. Decide from "
        "the signed-in member's memberships, never from an organization ID the client sends.",
    )


# the domains of members' email addresses: the portal's, a customer's, the product's own, a common
# provider's, and every domain the kata's code names (a bypass for "our staff" names one), in either case
DOMAIN = r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*\.[a-z]{2,}"
EMAIL_DOMAINS = ("portal.test", "customer.test", "ourapp.example", "gmail.com")


@cache
def email_domains() -> tuple[str, ...]:
    """The domains a member's email address is drawn from: EMAIL_DOMAINS, and those the kata's code names."""
    import service_authorization

    named: set[str] = set()
    for module in Path(service_authorization.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                text = node.value.strip()
                whole = re.fullmatch(rf"[@.]?({DOMAIN})", text, re.IGNORECASE)
                named |= {whole.group(1)} if whole else set()
                named |= {found.group(1) for found in re.finditer(rf"@({DOMAIN})", text, re.IGNORECASE)}
    domains = dict.fromkeys([*EMAIL_DOMAINS, *sorted(named)])
    return tuple(dict.fromkeys([*domains, *(domain.upper() for domain in domains)]))


@pytest.mark.contract(2, 6)
@pytest.mark.lesson("ARCH-6")
def test_no_email_address_opens_another_organizations_invoice(client: Client) -> None:
    """Whatever a member's email address, only their memberships decide which invoices they see."""
    organization, other = OrganizationFactory.create_batch(2)
    invoice = invoice_of(organization)
    member_of(organization)

    # addresses at every domain, and the invoice's own customer's address as it is and in other cases
    # (a customer's contact who signs up to the portal as a member of another organization)
    contact = invoice.customer.email
    addresses = [f"outsider{index}@{domain}" for index, domain in enumerate(email_domains())]
    addresses += list(dict.fromkeys([contact, contact.upper(), contact.swapcase(), contact.capitalize()]))
    leaks: list[str] = []
    for address in addresses:
        outsider = member_of(other, email=address)
        refused = outcome_of(invoice, member=outsider)
        if refused is not None:
            leaks.append(f"get_invoice() {told(refused)} to {outsider.email}")
        for name, url in ENDPOINTS.items():
            status, body = get_as(client, outsider, url.format(id=invoice.pk))
            if (status, body) != (404, NOT_FOUND):
                leaks.append(f"{name} answered {status} {body} to {outsider.email}")
    check(
        not leaks,
        f"Members of another organization, with email addresses at {len(email_domains())} domains and the "
        f"address of the invoice's own customer ({contact}, in {len(addresses) - len(email_domains())} "
        f"cases), asked for invoice {invoice.number} (ID {invoice.pk}), and "
        + "; ".join(leaks[:3])
        + (f" (and {len(leaks) - 3} more)" if len(leaks) > 3 else "")
        + f". Only the member's memberships decide: a member who does not belong to the invoice's organization "
        f"gets InvoiceNotFoundError and 404 {NOT_FOUND}, whatever their email address. An exception for "
        "'our own staff' by their address is a stand-in member for everyone: anyone who can sign up or be "
        "invited with such an address reads every organization's invoices; one for the customer's contact "
        "by the customer's address lets anyone who holds that address (a former employee, a member of "
        "another organization) read them. Drop it; whoever needs an organization's invoices gets a "
        "membership of it, or a service of their own with its own review.",
    )


# a route's parameters, as a path converter (<int:invoice_id>) or a regular expression's group
ROUTE_PARAMETER = re.compile(r"<(?:\w+:)?(\w+)>|\(\?P<(\w+)>[^)]*\)")


def served_routes() -> list[str]:
    """Every route the kata's URL resolver serves, whole: the two endpoints and any a learner added."""

    def walk(patterns: list[URLPattern | URLResolver], prefix: str) -> list[str]:
        routes: list[str] = []
        for pattern in patterns:
            text = str(pattern.pattern).removeprefix("^").removesuffix("$").removesuffix("\\Z")
            if isinstance(pattern, URLResolver):
                routes += walk(pattern.url_patterns, prefix + text)
            else:
                routes.append(prefix + text)
        return routes

    return sorted(set(walk(get_resolver("service_authorization.api").url_patterns, "")))


NOT_FOUND_TEXT = json.dumps(NOT_FOUND, sort_keys=True)


def answer_to(client: Client, member: Member, url: str) -> tuple[int, str]:
    """The status and body of a GET as `member`; a JSON body in one canonical spelling."""
    response = client.get(url, headers={"X-User-Id": str(member.pk)})
    text = response.content.decode(errors="replace")
    try:
        return response.status_code, json.dumps(json.loads(text), sort_keys=True)
    except ValueError:
        return response.status_code, text


def urls_naming(route: str, invoice: Invoice) -> dict[str, str]:
    """The URLs of a route that could name the invoice: every parameter its ID, or every parameter its number."""
    if not ROUTE_PARAMETER.search(route):
        return {"/" + route: "/" + route}
    return {
        f"/{route} with the invoice's {what}": "/" + ROUTE_PARAMETER.sub(value, route)
        for what, value in (("ID", str(invoice.pk)), ("number", invoice.number))
    }


@pytest.mark.contract(2)
@pytest.mark.lesson("ARCH-6")
def test_no_route_the_api_serves_shows_an_outsider_the_invoice() -> None:
    """Every route the API serves, not only the two endpoints, hides another organization's invoice."""
    client = Client(raise_request_exception=False)  # a route that fails (the docs page, say) shows nothing
    organization, other = OrganizationFactory.create_batch(2)
    invoice = InvoiceFactory.create(customer__organization=organization, number="INV-7-SECRET-31")
    insider = member_of(organization)
    outsider = member_of(other)

    leaks: list[str] = []
    for route in served_routes():
        for name, url in urls_naming(route, invoice).items():
            insiders = answer_to(client, insider, url)
            outsiders = answer_to(client, outsider, url)
            shown_to_the_insider = insiders[0] == 200 and invoice.number in insiders[1]
            if invoice.number in outsiders[1] or (shown_to_the_insider and outsiders != (404, NOT_FOUND_TEXT)):
                leaks.append(f"{name} answered {outsiders[0]} {outsiders[1][:200]}")
    check(
        not leaks,
        f"A signed-in member of another organization asked every route the API serves for invoice "
        f"{invoice.number} (ID {invoice.pk}), and "
        + "; ".join(leaks[:2])
        + (f" (and {len(leaks) - 2} more)" if len(leaks) > 2 else "")
        + f". Each route that shows an invoice to its organization's members must answer 404 {NOT_FOUND} to "
        "anyone else, whether it looks the invoice up by ID, by number or otherwise. Let every route go "
        "through a service that takes the signed-in member and decides, as get_invoice() does; a route that "
        "queries the invoices itself skips the check.",
    )


def absent_value(field_name: str, value: object) -> str:
    """A value of the invoice's unique field `field_name` that no invoice has, as close to `value` as can be."""
    if isinstance(value, int):
        candidate: object = value + 1_000
        while Invoice.objects.filter(**{field_name: candidate}).exists():
            candidate = int(str(candidate)) + 1_000
        return str(candidate)
    text = str(value)
    stem, digits = re.fullmatch(r"(.*?)(\d*)", text).groups()  # type: ignore[union-attr]
    number = int(digits or "0")
    while True:
        number += 1
        candidate = f"{stem}{number:0{len(digits)}d}"
        if not Invoice.objects.filter(**{field_name: candidate}).exists():
            return candidate


def filled(route: str, parameter: str, value: str, others: str) -> str:
    """The URL of `route` with `value` for `parameter` and `others` for every other parameter."""

    def fill(match: re.Match[str]) -> str:
        return value if (match.group(1) or match.group(2)) == parameter else others

    return "/" + ROUTE_PARAMETER.sub(fill, route)


def answer_without(client: Client, member: Member, url: str, value: str) -> tuple[int, str]:
    """The answer to `url`, with the value it names written as <value>: echoing what the client sent tells nothing."""
    status, body = answer_to(client, member, url)
    return status, body.replace(json.dumps(value)[1:-1], "<value>")


@pytest.mark.contract(2)
@pytest.mark.lesson("ARCH-6")
def test_no_route_tells_an_outsider_which_invoices_exist() -> None:
    """Every route answers an outsider the same for another organization's invoice as for one that does not exist."""
    client = Client(raise_request_exception=False)
    organization, other = OrganizationFactory.create_batch(2)
    invoice = InvoiceFactory.create(customer__organization=organization, number="INV-7-SECRET-31")
    member_of(organization)
    outsider = member_of(other)
    unique_fields = [field for field in Invoice._meta.concrete_fields if field.unique]

    differences: list[str] = []
    for route in served_routes():
        parameters = [match.group(1) or match.group(2) for match in ROUTE_PARAMETER.finditer(route)]
        for field in unique_fields:
            foreign = str(getattr(invoice, field.attname))
            absent = absent_value(field.attname, getattr(invoice, field.attname))
            for parameter in parameters:
                naming = filled(route, parameter, foreign, foreign)
                not_naming = filled(route, parameter, absent, foreign)
                shown = answer_without(client, outsider, naming, foreign)
                hidden = answer_without(client, outsider, not_naming, absent)
                if shown != hidden:
                    differences.append(
                        f"{naming} (its {field.verbose_name} {foreign}) answered {shown[0]} {shown[1][:160]}, "
                        f"but {not_naming} (an {field.verbose_name} no invoice has) answered {hidden[0]} "
                        f"{hidden[1][:160]}"
                    )
    check(
        not differences,
        f"A signed-in member of another organization named invoice {invoice.number} (ID {invoice.pk}) in every "
        "route the API serves, and then a value no invoice has: "
        + "; ".join(differences[:2])
        + (f" (and {len(differences) - 2} more)" if len(differences) > 2 else "")
        + ". When the two answers differ, any member can find out which invoice IDs or numbers exist in other "
        f"organizations. Each route must answer both with 404 {NOT_FOUND}: look the invoice up only among "
        "those the member may see, in a service that takes the member, and turn every miss, whatever "
        "its cause, into the same InvoiceNotFoundError (not Invoice.DoesNotExist, whose 404 says something else).",
    )


@pytest.mark.contract(5)
@pytest.mark.lesson("ARCH-6")
def test_the_service_refuses_a_non_member() -> None:
    organization = OrganizationFactory.create()
    invoice = invoice_of(organization)
    insider = member_of(organization)
    outsider = member_of(OrganizationFactory.create())

    refused = outcome_of(invoice, member=outsider)

    if isinstance(refused, TypeError) and "member" in str(refused):
        check(
            False,
            "get_invoice() does not know who is asking: it takes no `member`, so it hands any "
            "organization's invoice to whoever calls it, and each endpoint, job or command has to remember "
            "its own check (the mobile summary forgot). Give the service the member, "
            "`get_invoice(invoice_id, *, member: Member)`, and let it refuse non-members.",
        )
    check(
        refused is None,
        f"get_invoice({invoice.pk}, member=<a member of another organization>) {told(refused)}. The service "
        "must refuse a non-member with InvoiceNotFoundError, the error it raises for an unknown ID: then "
        "every caller, today's endpoints and tomorrow's, gets the check and the API answers 404 for both. "
        "A check in the endpoints or in a decorator protects only the callers that remember it.",
    )
    allowed = outcome_of(invoice, member=insider)
    check(
        allowed == invoice,
        f"get_invoice({invoice.pk}, member=<a member of the invoice's organization>) {told(allowed)}: a member "
        "must still get their own organization's invoice. Compare the invoice's organization "
        "(invoice.customer.organization_id) with the organizations of the member's memberships, and "
        "nothing else: a customer's or a member's ID is not an organization's.",
    )


@pytest.mark.contract(6)
@pytest.mark.lesson("ARCH-6")
def test_the_service_cannot_be_called_without_the_check() -> None:
    """Without a member, or with member=None, the service does not hand out the invoice."""
    organization = OrganizationFactory.create()
    invoice = invoice_of(organization)
    member_of(organization)

    answers = {
        "get_invoice(invoice_id)": outcome_of(invoice),
        "get_invoice(invoice_id, member=None)": outcome_of(invoice, member=None),
    }

    leaks = {call: outcome for call, outcome in answers.items() if isinstance(outcome, Invoice)}
    check(
        not leaks,
        "; ".join(f"{call} {told(outcome)}" for call, outcome in leaks.items())
        + ". When the service can be called without saying who asks, the check is the caller's to "
        "remember again, and a job that passes nobody (or None) reads every organization's invoices. "
        "Make `member` a required keyword argument with no default, and refuse anyone who is not a "
        "member of the invoice's organization: None is nobody's member.",
    )


# flags a bypass is usually called by, tried when the service takes **kwargs
BYPASS_FLAGS = (
    "as_system",
    "skip_check",
    "trusted",
    "system",
    "internal",
    "bypass",
    "force",
    "admin",
    "sudo",
    "unchecked",
)
# values that switch such a flag (or a `member` that stands for "everyone") on
SWITCHES: tuple[object, ...] = (True, 1, "true", "yes", "system", "all", "*")


def ways_around(outsider: Member) -> dict[str, dict[str, object]]:
    """Every call of get_invoice() that names an outsider yet passes something more the service accepts:
    each extra parameter, a **kwargs flag, a stand-in member the module offers, switched on in turn."""
    import service_authorization.services as services

    tried: dict[str, dict[str, object]] = {}
    parameters = inspect.signature(get_invoice).parameters.values()
    for parameter in parameters:
        if parameter.name in ("invoice_id", "member") or parameter.kind is parameter.VAR_POSITIONAL:
            continue
        names = BYPASS_FLAGS if parameter.kind is parameter.VAR_KEYWORD else (parameter.name,)
        for name in names:
            for value in SWITCHES:
                tried[f"{name}={value!r}"] = {"member": outsider, name: value}
    for name, value in vars(services).items():  # a sentinel the module offers, such as SYSTEM = object()
        if not name.startswith("__") and not callable(value) and not inspect.ismodule(value):
            tried[f"member=services.{name}"] = {"member": value}
    return tried


@pytest.mark.contract(6)
@pytest.mark.guard("ARCH-6")
def test_the_service_offers_no_way_around_its_check() -> None:
    """No flag, extra argument or stand-in member makes the service hand an invoice to an outsider."""
    organization = OrganizationFactory.create()
    invoice = invoice_of(organization)
    member_of(organization)
    outsider = member_of(OrganizationFactory.create())

    leaks = [
        call
        for call, arguments in ways_around(outsider).items()
        if isinstance(outcome_of(invoice, **arguments), Invoice)  # type: ignore[arg-type]  # any argument, on purpose
    ]
    signature = inspect.signature(get_invoice)
    if any(parameter.kind is parameter.VAR_POSITIONAL for parameter in signature.parameters.values()):
        positional = partial(get_invoice, invoice.pk, True, member=outsider)  # type: ignore[arg-type, misc]  # an extra positional, on purpose
        if isinstance(outcome_of(invoice, positional=positional), Invoice):
            leaks.append("an extra positional True")
    check(
        not leaks,
        f"get_invoice{signature} handed an invoice of another organization to an outsider when called with "
        f"{', '.join(leaks)}. A service that offers its callers a way around its own check (an `as_system` "
        "or `skip_check` flag, a `trusted` switch, **kwargs, a stand-in member for 'everyone') has no "
        "check: every caller can again forget it, or pass the flag because it is easier, and the mobile "
        "summary's leak is back. Keep `get_invoice(invoice_id, *, member)`; a job that really needs "
        "every organization's invoices is a different service, named for what it does, with its own "
        "callers and its own review.",
    )


# --- generated scenarios, against the reference solution ---

SCENARIO_SECONDS = 120  # 40 examples, each several requests: more than one check's usual time on a loaded machine


@cache
def reference_services() -> ModuleType:
    """The reference solution's services, on the learner's models: the oracle of the generated scenarios."""
    return reference("service_authorization.services")


@st.composite
def portals(draw: st.DrawFn) -> dict[str, Any]:
    """Organizations (all of one name, see factories.py), members with memberships in any of them (or none),
    invoices whose customer's address may be a member's (in either case), and who asks for what."""
    organizations = draw(st.integers(1, 3))
    members = draw(st.lists(st.sets(st.integers(0, organizations - 1)), min_size=1, max_size=3))
    domains = draw(st.lists(st.sampled_from(email_domains()), min_size=len(members), max_size=len(members)))
    contacts = st.none() | st.tuples(st.integers(0, len(members) - 1), st.booleans())  # (member, upper-cased)
    invoices = draw(st.lists(st.tuples(st.integers(0, organizations - 1), contacts), min_size=1, max_size=4))
    asks = st.tuples(st.integers(0, len(members) - 1), st.integers(0, len(invoices)))  # len(invoices): unknown
    return {
        "organizations": organizations,
        "members": members,
        "domains": domains,
        "invoices": invoices,
        "asks": draw(st.lists(asks, min_size=1, max_size=4)),
    }


def portal_in_words(portal: dict[str, Any]) -> str:
    members = "; ".join(
        f"member {index} (member{index}@{domain}) belongs to "
        f"{', '.join(f'organization {o}' for o in sorted(orgs)) or 'no organization'}"
        for index, (orgs, domain) in enumerate(zip(portal["members"], portal["domains"], strict=True))
    )
    invoices = "; ".join(
        f"invoice {index} is organization {o}'s"
        + ("" if contact is None else f", its customer's address member {contact[0]}'s{' in capitals' * contact[1]}")
        for index, (o, contact) in enumerate(portal["invoices"])
    )
    return f"{portal['organizations']} organization(s), all named alike; {members}; {invoices}"


def contact_address(portal: dict[str, Any], contact: tuple[int, bool] | None) -> dict[str, str]:
    """The customer's email address of an invoice: a member's, as it is or in capitals, or the factory's."""
    if contact is None:
        return {}
    index, upper = contact
    address = f"member{index}@{portal['domains'][index]}"
    return {"customer__email": address.upper() if upper else address}


@pytest.mark.lesson("ARCH-6")
@pytest.mark.contract(1, 2, 5)
@pytest.mark.timeout(SCENARIO_SECONDS)
@scenarios(40)
@given(portal=portals())
def test_who_sees_which_invoice_is_what_the_reference_decides(client: Client, portal: dict[str, Any]) -> None:
    """Generated organizations, members and invoices: each member sees exactly what the reference lets them see"""
    with rolled_back():
        start_ids_apart()
        organizations = OrganizationFactory.create_batch(portal["organizations"])
        members = [
            member_of(*(organizations[o] for o in sorted(orgs)), email=f"member{index}@{domain}")
            for index, (orgs, domain) in enumerate(zip(portal["members"], portal["domains"], strict=True))
        ]
        invoices = [invoice_of(organizations[o], **contact_address(portal, c)) for o, c in portal["invoices"]]
        wrong: list[str] = []
        for member_index, invoice_index in portal["asks"]:
            answered = answered_now(client, members[member_index], asked_invoice(invoices, invoice_index))
            if answered.wrong:
                asked = invoice_in_words(invoice_index, len(invoices))
                wrong.append(f"member {member_index} asks for {asked}: {answered.words}")

    check(
        not wrong,
        f"With {portal_in_words(portal)}:\n  "
        + "\n  ".join(wrong[:4])
        + "\nA member sees an invoice if and only if they belong to the invoice's organization (its customer's "
        "organization); to anyone else it does not exist (InvoiceNotFoundError, and 404 from every endpoint). "
        "Decide from the member's memberships and the invoice's organization, in get_invoice().",
    )


# --- memberships as they are at each request, and members told apart by nothing but their key ----------

#: what happens between two requests: a member asks for an invoice, joins an organization, or leaves one
STEP = st.one_of(
    st.tuples(st.just("asks"), st.integers(0, 2), st.integers(0, 3)),
    st.tuples(st.sampled_from(["joins", "leaves"]), st.integers(0, 2), st.integers(0, 1)),
)


@st.composite
def membership_histories(draw: st.DrawFn) -> dict[str, Any]:
    """Two organizations, members with memberships in either (or none), invoices, then requests with
    memberships added and removed between them."""
    members = draw(st.lists(st.sets(st.integers(0, 1)), min_size=1, max_size=3))
    invoices = draw(st.lists(st.integers(0, 1), min_size=1, max_size=3))
    steps = draw(st.lists(STEP, min_size=2, max_size=8))
    steps = [
        (what, member % len(members), target % (len(invoices) + 1 if what == "asks" else 2))
        for what, member, target in steps
    ]
    return {"members": members, "invoices": invoices, "steps": steps}


def step_in_words(what: str, member: int, target: int, *, invoices: int) -> str:
    if what == "asks":
        return f"member {member} asks for {invoice_in_words(target, invoices)}"
    return f"member {member} {what} organization {target}"


def answered_now(client: Client, member: Member, invoice_id: int) -> Answered:
    """What the service and each endpoint give `member` for `invoice_id` right now, against what the reference
    gives: in words, and whether anything differs."""
    expected_service = reference_services()
    try:
        expected: object = expected_service.get_invoice(invoice_id, member=member).number
    except expected_service.InvoiceNotFoundError:
        expected = None
    yours, endpoints = answers_now(client, member, invoice_id)
    status = 200 if expected is not None else 404
    off = [
        f"{name} answered {answer[0]} {answer[1]}"
        for name, answer in endpoints.items()
        if answer[0] != status or (status == 404 and answer[1] != NOT_FOUND)
    ]
    if yours != expected:
        off.insert(0, "get_invoice() " + ("refused" if yours is None else f"gave {yours}"))
    wanted = "a refusal and 404" if expected is None else f"invoice {expected} and 200"
    return Answered(f"{', '.join(off)}, expected {wanted}" if off else "as expected", wrong=bool(off))


def answers_now(client: Client, member: Member, invoice_id: int) -> tuple[object, dict[str, tuple[int, object]]]:
    """What the service gives `member` for `invoice_id` right now (a number, None for a refusal, or an error),
    and what each endpoint answers."""
    try:
        given_invoice: object = get_invoice(invoice_id, member=member).number
    except InvoiceNotFoundError:
        given_invoice = None
    except Exception as error:  # reported to the learner
        given_invoice = f"{type(error).__name__}: {error}"
    return given_invoice, {name: get_as(client, member, url.format(id=invoice_id)) for name, url in ENDPOINTS.items()}


@pytest.mark.lesson("ARCH-6")
@pytest.mark.contract(1, 2, 5)
@pytest.mark.timeout(SCENARIO_SECONDS)
@scenarios(40)
@example(history={"members": [{0}], "invoices": [0], "steps": [("asks", 0, 0), ("leaves", 0, 0), ("asks", 0, 0)]})
@example(history={"members": [set()], "invoices": [1], "steps": [("asks", 0, 0), ("joins", 0, 1), ("asks", 0, 0)]})
@given(history=membership_histories())
def test_a_membership_added_or_removed_counts_from_the_next_request(client: Client, history: dict[str, Any]) -> None:
    """Generated: memberships added and removed between requests; each request sees them as they are then"""
    with rolled_back():
        start_ids_apart()
        organizations = OrganizationFactory.create_batch(2)
        members = [member_of(*(organizations[o] for o in sorted(orgs))) for orgs in history["members"]]
        invoices = [invoice_of(organizations[o]) for o in history["invoices"]]

        def change(what: str, member: int, organization: int) -> None:
            if what == "joins":
                Membership.objects.get_or_create(member=members[member], organization=organizations[organization])
            else:
                Membership.objects.filter(member=members[member], organization=organizations[organization]).delete()

        def answer(member: int, invoice: int) -> Answered:
            return answered_now(client, members[member], asked_invoice(invoices, invoice))

        answers = replay(history["steps"], request="asks", change=change, answer=answer, until=attrgetter("wrong"))
    lines, wrong = narrated(
        history["steps"], answers, request="asks", in_words=partial(step_in_words, invoices=len(invoices))
    )
    check(
        not wrong,
        "Two organizations; "
        + "; ".join(
            f"member {index} belongs at first to {', '.join(f'organization {o}' for o in sorted(orgs)) or 'none'}"
            for index, orgs in enumerate(history["members"])
        )
        + "; "
        + "; ".join(f"invoice {index} is organization {o}'s" for index, o in enumerate(history["invoices"]))
        + ". Then, one request after another in the same process:\n  "
        + "\n  ".join(lines)
        + "\nWho may see an invoice is decided by the memberships as they are when the request comes: a member "
        "removed from an organization stops seeing its invoices at the next request, and one added starts "
        "seeing them. What a worker keeps between requests (a cache in a module, lru_cache) goes on showing "
        "a removed member the invoices, for as long as the worker lives. Ask the database on every call.",
    )


#: addresses of one person for some, of several people for us: each spelling is another member's
ONE_ADDRESS = spellings("josé.alves@acme.test")


@st.composite
def look_alike_members(draw: st.DrawFn) -> dict[str, Any]:
    """Members whose addresses are spellings of one address, each in organizations of their own or none;
    invoices of those organizations; who asks for what."""
    addresses = draw(st.lists(st.sampled_from(ONE_ADDRESS), min_size=2, max_size=4, unique=True))
    organizations = draw(st.integers(1, 3))
    members = draw(
        st.lists(st.sets(st.integers(0, organizations - 1)), min_size=len(addresses), max_size=len(addresses))
    )
    invoices = draw(st.lists(st.integers(0, organizations - 1), min_size=1, max_size=3))
    asks = draw(st.lists(st.tuples(st.integers(0, len(addresses) - 1), st.integers(0, len(invoices) - 1)), max_size=4))
    return {
        "addresses": addresses,
        "organizations": organizations,
        "members": members,
        "invoices": invoices,
        "asks": asks,
    }


@pytest.mark.lesson("ARCH-6")
@pytest.mark.contract(2, 5, 6)
@pytest.mark.timeout(SCENARIO_SECONDS)
@scenarios(30)
@example(
    people={
        "addresses": [ONE_ADDRESS[0], ONE_ADDRESS[1]],
        "organizations": 2,
        "members": [{0}, {1}],
        "invoices": [0, 1],
        "asks": [(0, 1), (1, 0)],
    }
)
@given(people=look_alike_members())
def test_members_whose_addresses_differ_only_in_spelling_are_different_people(
    client: Client, people: dict[str, Any]
) -> None:
    """Generated members whose addresses differ only in case or Unicode form: each sees only their own organizations'"""
    expected_service = reference_services()
    wrong: list[str] = []
    with rolled_back():
        start_ids_apart()
        organizations = OrganizationFactory.create_batch(people["organizations"])
        members = [
            member_of(*(organizations[o] for o in sorted(orgs)), email=address)
            for address, orgs in zip(people["addresses"], people["members"], strict=True)
        ]
        invoices = [invoice_of(organizations[o]) for o in people["invoices"]]
        for member_index, invoice_index in people["asks"]:
            member, invoice = members[member_index], invoices[invoice_index]
            try:
                expected: object = expected_service.get_invoice(invoice.pk, member=member).number
            except expected_service.InvoiceNotFoundError:
                expected = None
            yours, endpoints = answers_now(client, member, invoice.pk)
            status = 200 if expected is not None else 404
            off = [f"{name} answered {answer[0]}" for name, answer in endpoints.items() if answer[0] != status]
            if yours != expected:
                off.insert(0, "get_invoice() " + ("refused" if yours is None else f"gave {yours}"))
            if off:
                wanted = "a refusal and 404" if expected is None else f"invoice {expected} and 200"
                wrong.append(f"{member.email!r} asks for invoice {invoice_index}: {', '.join(off)}, expected {wanted}")
    check(
        not wrong,
        "Members whose addresses differ only in letter case or in the Unicode form of a letter: "
        + "; ".join(
            f"{address!r} belongs to {', '.join(f'organization {o}' for o in sorted(orgs)) or 'no organization'}"
            for address, orgs in zip(people["addresses"], people["members"], strict=True)
        )
        + "; "
        + "; ".join(f"invoice {index} is organization {o}'s" for index, o in enumerate(people["invoices"]))
        + ":\n  "
        + "\n  ".join(wrong[:4])
        + "\nEach of them is a member of their own, with a key of their own: two accounts, often two people. "
        "A check that finds memberships by an address compared in any case or form lets one of them read "
        "the other's organizations' invoices. Decide from the member themselves (the member the request "
        "signed in), never from their address.",
    )
