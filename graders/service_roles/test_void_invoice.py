"""Grader of `service_roles`: the service decides who may void an invoice, by the role in its organization."""

import inspect
from collections.abc import Callable
from functools import cache, partial
from types import ModuleType
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client
from hypothesis import example, given
from hypothesis import strategies as st

from dojo.grading import check
from dojo.races import Interleave, interleaved, race
from dojo.scenarios import reference, rolled_back, scenarios
from dojo.tenants import Answered, asked_invoice, invoice_in_words, narrated, replay, spellings
from service_roles.models import Invoice, Member, Membership, Organization
from service_roles.services import InvoiceNotFoundError, void_invoice

from .factories import InvoiceFactory, MemberFactory, MembershipFactory, OrganizationFactory, start_ids_apart

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.urls("service_roles.api"),
    # a learner's deprecated but working call is reported, not failed
    pytest.mark.filterwarnings("default::DeprecationWarning"),
]

ADMIN, MEMBER = Membership.Role.ADMIN, Membership.Role.MEMBER


def member_with(**roles: Organization) -> Member:
    """A member with a role in each organization given: member_with(admin=acme, member=globex)."""
    member = MemberFactory.create()
    for role, organization in roles.items():
        MembershipFactory.create(member=member, organization=organization, role=role)
    return member


def void_as(
    client: Client, member: Member | None, invoice_id: int, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, object]]:
    auth = {} if member is None else {"X-User-Id": str(member.pk)}
    response = client.post(f"/api/v1/invoices/{invoice_id}/void", headers=auth | (headers or {}))
    return response.status_code, response.json()


def outcome_of(invoice: Invoice, **arguments: object) -> object:
    """What void_invoice(invoice.pk, **arguments) did: the invoice it returned, or the exception it raised."""
    try:
        # arguments of any kind, on purpose: none, member=None, a stand-in member
        return void_invoice(invoice.pk, **arguments)  # type: ignore[arg-type]
    except Exception as error:  # reported to the learner
        return error


def told(outcome: object) -> str:
    if isinstance(outcome, Exception):
        return f"raised {type(outcome).__name__}: {outcome}"
    return f"voided it (returned {outcome})"


def status_of(invoice: Invoice) -> str:
    invoice.refresh_from_db()
    return invoice.status


# --- what the Void button does: unchanged by the lesson ---


@pytest.mark.contract(1)
def test_an_admin_voids_an_open_invoice_of_their_organization(client: Client) -> None:
    acme = OrganizationFactory.create()
    invoice = InvoiceFactory.create(customer__organization=acme)
    admin = member_with(admin=acme)

    assert void_as(client, admin, invoice.pk) == (200, {"id": invoice.pk, "number": invoice.number, "status": "void"})
    invoice.refresh_from_db()
    assert (invoice.status, invoice.voided_by) == (Invoice.Status.VOID, admin)


@pytest.mark.contract(4)
def test_a_paid_invoice_cannot_be_voided(client: Client) -> None:
    acme = OrganizationFactory.create()
    invoice = InvoiceFactory.create(customer__organization=acme, status=Invoice.Status.PAID)

    status, body = void_as(client, member_with(admin=acme), invoice.pk)

    assert (status, body["code"]) == (409, "conflict")
    assert status_of(invoice) == Invoice.Status.PAID


@pytest.mark.contract(3)
def test_another_organizations_invoice_is_not_found(client: Client) -> None:
    """Another organization's invoice is not found."""
    invoice = InvoiceFactory.create()
    outsider = member_with(admin=OrganizationFactory.create())

    assert void_as(client, outsider, invoice.pk) == (
        404,
        {"code": "not_found", "message": "Invoice not found.", "details": []},
    )
    assert void_as(client, outsider, 987654)[0] == 404
    assert status_of(invoice) == Invoice.Status.OPEN


@pytest.mark.contract(6)
@pytest.mark.parametrize("user_id", [None, "987654", "abc", str(2**64)])
def test_a_caller_who_is_not_a_member_at_all_gets_401(client: Client, user_id: str | None) -> None:
    invoice = InvoiceFactory.create()
    headers = {} if user_id is None else {"X-User-Id": user_id}

    response = client.post(f"/api/v1/invoices/{invoice.pk}/void", headers=headers)

    assert (response.status_code, response.json()["code"]) == (401, "not_authenticated")


# --- the lesson ---


@pytest.mark.contract(2)
@pytest.mark.lesson("ARCH-6")
def test_a_member_who_is_not_an_admin_here_cannot_void(client: Client) -> None:
    """A member who is an admin elsewhere, but not of the invoice's organization, gets 403."""
    acme, globex = OrganizationFactory.create_batch(2)
    invoices = InvoiceFactory.create_batch(2, customer__organization=acme)
    member_with(admin=acme)  # the organization has admins of its own
    accountant = member_with(member=acme, admin=globex)  # reads Acme's invoices, manages Globex's billing

    answers = {
        "": void_as(client, accountant, invoices[0].pk),
        " (told it acts for Globex)": void_as(
            client, accountant, invoices[1].pk, {"X-Organization-Id": str(globex.pk)}
        ),
    }

    wrong = {claim: answer for claim, answer in answers.items() if answer[0] != 403}
    voided = [invoice.number for invoice in invoices if status_of(invoice) != Invoice.Status.OPEN]
    check(
        not wrong and not voided,
        "A member of Acme who is an admin of another organization asked to void an Acme invoice, and "
        + "; ".join(f"the API{claim} answered {status} {body}" for claim, (status, body) in wrong.items())
        + f" (voided: {voided or 'none'}). Only Acme's admins may void Acme's invoices: answer "
        "403 (the member may see the invoice, so its existence is no secret to them) and change nothing. "
        "The router's decorator asks whether the caller is an admin anywhere; the role that counts is the "
        "one in the invoice's organization, and only the service, which loads the invoice, can ask that.",
    )


@pytest.mark.contract(2)
@pytest.mark.lesson("ARCH-6")
def test_the_service_refuses_a_member_without_the_role() -> None:
    acme, globex = OrganizationFactory.create_batch(2)
    member_with(admin=acme)
    refused = {
        "a plain member of Acme": member_with(member=acme),
        "a plain member of Acme who is an admin of Globex": member_with(member=acme, admin=globex),
    }
    invoices = {who: InvoiceFactory.create(customer__organization=acme) for who in refused}

    outcomes = {who: outcome_of(invoices[who], member=member) for who, member in refused.items()}

    wrong = {
        who: outcome
        for who, outcome in outcomes.items()
        if not isinstance(outcome, PermissionDenied) or status_of(invoices[who]) != Invoice.Status.OPEN
    }
    check(
        not wrong,
        "; ".join(
            f"void_invoice(invoice_id, member=<{who}>) {told(outcome)}, and the invoice is now "
            f"{status_of(invoices[who])!r}"
            for who, outcome in wrong.items()
        )
        + ". The service must refuse a member who is not an "
        "admin of the invoice's organization with django.core.exceptions.PermissionDenied, before it "
        "writes anything: then the Void button, a bulk job and a management command all get the check, "
        "and the API answers 403. A check in the router or a decorator protects only the callers that "
        "remember it.",
    )


@pytest.mark.contract(1)
@pytest.mark.guard("ARCH-6")
def test_an_admin_here_may_void_whatever_their_other_roles() -> None:
    acme, globex = OrganizationFactory.create_batch(2)
    invoice = InvoiceFactory.create(customer__organization=acme)
    admin = member_with(member=globex, admin=acme)  # their first membership is a plain one

    outcome = outcome_of(invoice, member=admin)

    check(
        status_of(invoice) == Invoice.Status.VOID,
        f"void_invoice(invoice_id, member=<an admin of Acme, and a plain member of Globex>) {told(outcome)}. "
        "An admin of the invoice's organization may void it, whatever their role elsewhere: look up the "
        "membership of the invoice's organization, not the member's first or any membership.",
    )


@pytest.mark.contract(7)
@pytest.mark.guard("ARCH-6")
def test_the_service_cannot_be_called_without_the_check() -> None:
    """Without a member, or with member=None, the service voids nothing."""
    acme = OrganizationFactory.create()
    invoice = InvoiceFactory.create(customer__organization=acme)
    member_with(admin=acme)

    outcomes = {
        "void_invoice(invoice_id)": outcome_of(invoice),
        "void_invoice(invoice_id, member=None)": outcome_of(invoice, member=None),
    }

    check(
        status_of(invoice) == Invoice.Status.OPEN,
        "; ".join(f"{call} {told(outcome)}" for call, outcome in outcomes.items())
        + ". When the service can be called without saying who asks, the check is the caller's to "
        "remember again. Keep `member` a required keyword argument with no default: None is nobody's "
        "member, and nobody's admin.",
    )


# flags a bypass is usually called by, tried when the service takes **kwargs
BYPASS_FLAGS = (
    "skip_role_check",
    "skip_check",
    "force",
    "as_system",
    "system",
    "trusted",
    "internal",
    "bypass",
    "admin",
    "sudo",
    "unchecked",
)
# values that switch such a flag (or a `member` that stands for "everyone") on
SWITCHES: tuple[object, ...] = (True, 1, "true", "yes", "system", "all", "*")


def ways_around(member: Member) -> dict[str, dict[str, object]]:
    """Every call of void_invoice() that names a member yet passes something more the service accepts:
    each extra parameter, a **kwargs flag, a stand-in member the module offers, switched on in turn."""
    import service_roles.services as services

    tried: dict[str, dict[str, object]] = {}
    for parameter in inspect.signature(void_invoice).parameters.values():
        if parameter.name in ("invoice_id", "member") or parameter.kind is parameter.VAR_POSITIONAL:
            continue
        names = BYPASS_FLAGS if parameter.kind is parameter.VAR_KEYWORD else (parameter.name,)
        for name in names:
            for value in SWITCHES:
                tried[f"{name}={value!r}"] = {"member": member, name: value}
    for name, value in vars(services).items():  # a sentinel the module offers, such as SYSTEM = object()
        if not name.startswith("__") and not callable(value) and not inspect.ismodule(value):
            tried[f"member=services.{name}"] = {"member": value}
    return tried


@pytest.mark.contract(7)
@pytest.mark.guard("ARCH-6")
def test_the_service_offers_no_way_around_its_check() -> None:
    """No flag, extra argument or stand-in member lets the service void what the member may not void."""
    acme = OrganizationFactory.create()
    member_with(admin=acme)
    callers = {
        "a plain member of Acme": member_with(member=acme),
        "a member of another organization": member_with(admin=OrganizationFactory.create()),
    }

    leaks: list[str] = []
    for who, caller in callers.items():
        refused = InvoiceFactory.create(customer__organization=acme)
        outcome_of(refused, member=caller)
        if status_of(refused) != Invoice.Status.OPEN:
            continue  # the service does not refuse this caller at all: the checks of items 2 and 3 say so
        for call, arguments in ways_around(caller).items():
            invoice = InvoiceFactory.create(customer__organization=acme)
            outcome = outcome_of(invoice, **arguments)
            if status_of(invoice) != Invoice.Status.OPEN:
                leaks.append(f"void_invoice(invoice_id, member=<{who}>, {call}) {told(outcome)}")
    signature = inspect.signature(void_invoice)
    check(
        not leaks,
        f"void_invoice{signature} refuses these callers, yet "
        + "; ".join(leaks[:2])
        + (f" (and {len(leaks) - 2} more)" if len(leaks) > 2 else "")
        + ". A service that offers its callers a way around its own check (a `skip_role_check` or `force` "
        "flag, **kwargs, a stand-in member for 'the system') has no check: any command, job or later route "
        "can pass the flag because it is easier, and a plain member voids invoices again. Keep "
        "`void_invoice(invoice_id, *, member)`; a job that really voids without a member is a different "
        "service, named for what it does, with its own callers and its own review.",
    )


@pytest.mark.contract(3)
def test_the_service_hides_another_organizations_invoice() -> None:
    """The service hides another organization's invoice."""
    invoice = InvoiceFactory.create()
    outsider = member_with(admin=OrganizationFactory.create())

    assert isinstance(outcome_of(invoice, member=outsider), InvoiceNotFoundError)
    assert status_of(invoice) == Invoice.Status.OPEN


# --- two voids at once ---


@pytest.mark.threads  # another worker commits from a thread of its own
@pytest.mark.guard("ARCH-6")
@pytest.mark.contract(5)
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "interleave",
    [pytest.param(interleaved, id="interleaved"), pytest.param(race, id="race", marks=pytest.mark.postgresql)],
)
def test_two_admins_voiding_one_invoice_at_once_void_it_once(interleave: Interleave) -> None:
    """Two admins voiding one invoice at the same moment: one voids it, the other is told it is no longer open"""
    acme = OrganizationFactory.create()
    invoice = InvoiceFactory.create(customer__organization=acme)
    first, second = member_with(admin=acme), member_with(admin=acme)
    answers: dict[str, int] = {}

    def void_by(name: str, member: Member) -> Callable[[], None]:
        def void() -> None:
            answers[name] = (
                Client().post(f"/api/v1/invoices/{invoice.pk}/void", headers={"X-User-Id": str(member.pk)}).status_code
            )

        return void

    outcome = interleave(void_by("yours", first), void_by("theirs", second))

    invoice.refresh_from_db()
    winner = {200: None} | {answers.get(name): member for name, member in (("yours", first), ("theirs", second))}
    check(
        sorted(answers.values()) == [200, 409] and invoice.voided_by == winner.get(200),
        f"Two admins of Acme voided the same open invoice at the same moment (how they met: "
        f"{outcome.interleaving}). They were answered {answers}, and the invoice names "
        f"{'nobody' if invoice.voided_by is None else 'member ' + str(invoice.voided_by.pk)} as the one who voided it. "
        "One void goes through (200) and the other is told that the invoice is no longer open (409 conflict), "
        "writing nothing. Read the invoice with select_for_update() inside the transaction before checking its "
        "status (or make the write conditional on the status you read). "
        f"Errors seen: {outcome.failures() or 'none'}",
    )


# --- generated organizations, roles and invoices, against the reference solution ---

SCENARIO_SECONDS = 120  # 40 examples of several voids each: more than one check's usual time on a loaded machine
ROLES = (None, MEMBER, ADMIN)


@cache
def reference_services() -> ModuleType:
    """The reference solution's services, on the learner's models: the oracle of the generated scenarios."""
    return reference("service_roles.services")


@st.composite
def billing_teams(draw: st.DrawFn) -> dict[str, Any]:
    """Organizations, members with a role (or none) in each, invoices in any status, and who voids what."""
    organizations = draw(st.integers(1, 3))
    members = draw(
        st.lists(
            st.lists(st.sampled_from(ROLES), min_size=organizations, max_size=organizations), min_size=1, max_size=3
        )
    )
    statuses = [Invoice.Status.OPEN, Invoice.Status.OPEN, Invoice.Status.PAID, Invoice.Status.VOID]
    invoices = draw(
        st.lists(st.tuples(st.integers(0, organizations - 1), st.sampled_from(statuses)), min_size=1, max_size=3)
    )
    asks = st.tuples(st.integers(0, len(members) - 1), st.integers(0, len(invoices)))  # len(invoices): unknown
    return {
        "organizations": organizations,
        "members": members,
        "invoices": invoices,
        "asks": draw(st.lists(asks, min_size=1, max_size=4)),
    }


def team_in_words(team: dict[str, Any]) -> str:
    members = "; ".join(
        f"member {index} is "
        + (", ".join(f"{role} of organization {o}" for o, role in enumerate(roles) if role) or "in no organization")
        for index, roles in enumerate(team["members"])
    )
    invoices = "; ".join(
        f"invoice {index} is organization {o}'s, {status}" for index, (o, status) in enumerate(team["invoices"])
    )
    return f"{members}; {invoices}"


def arranged_team(team: dict[str, Any]) -> tuple[list[Member], list[Invoice]]:
    start_ids_apart()
    organizations = OrganizationFactory.create_batch(team["organizations"])
    members = [MemberFactory.create() for _ in team["members"]]
    for member, roles in zip(members, team["members"], strict=True):
        for organization, role in zip(organizations, roles, strict=True):
            if role:
                MembershipFactory.create(member=member, organization=organization, role=role)
    invoices = [
        InvoiceFactory.create(customer__organization=organizations[o], status=status) for o, status in team["invoices"]
    ]
    return members, invoices


def invoice_states(invoices: list[Invoice], members: list[Member]) -> list[tuple[str, int | None]]:
    by_member = {member.pk: index for index, member in enumerate(members)}
    return [
        (row.status, by_member.get(row.voided_by_id) if row.voided_by_id else None)
        for row in (Invoice.objects.get(pk=invoice.pk) for invoice in invoices)
    ]


@pytest.mark.lesson("ARCH-6")
@pytest.mark.contract(1, 2, 3, 4)
@pytest.mark.timeout(SCENARIO_SECONDS)
@scenarios(40)
@given(team=billing_teams())
def test_who_may_void_what_is_what_the_reference_decides(client: Client, team: dict[str, Any]) -> None:
    """Generated organizations, roles and invoices: the API voids, refuses and hides as the reference does"""
    expected_service = reference_services()
    answers = {
        expected_service.InvoiceNotFoundError: 404,
        PermissionDenied: 403,
        expected_service.InvoiceNotVoidableError: 409,
    }
    with rolled_back():
        members, invoices = arranged_team(team)
        yours = []
        for member_index, invoice_index in team["asks"]:
            invoice_id = invoices[invoice_index].pk if invoice_index < len(invoices) else invoices[-1].pk + 1_000
            status, _body = void_as(client, members[member_index], invoice_id)
            yours.append((status, invoice_states(invoices, members)))
    with rolled_back():
        members, invoices = arranged_team(team)
        expected = []
        for member_index, invoice_index in team["asks"]:
            invoice_id = invoices[invoice_index].pk if invoice_index < len(invoices) else invoices[-1].pk + 1_000
            try:
                expected_service.void_invoice(invoice_id, member=members[member_index])
                status = 200
            except tuple(answers) as refusal:
                status = next(code for kind, code in answers.items() if isinstance(refusal, kind))
            expected.append((status, invoice_states(invoices, members)))

    steps = []
    for (member_index, invoice_index), mine, theirs in zip(team["asks"], yours, expected, strict=True):
        what = f"member {member_index} voids " + (
            f"invoice {invoice_index}" if invoice_index < len(invoices) else "an unknown invoice"
        )
        mark = "" if mine == theirs else "   <- expected " + f"{theirs[0]}, invoices then {theirs[1]}"
        steps.append(f"{what}: answered {mine[0]}, invoices then (status, voided by member) {mine[1]}{mark}")
        if mine != theirs:
            break
    check(
        yours == expected,
        f"With {team_in_words(team)}:\n  "
        + "\n  ".join(steps)
        + "\nOnly an admin of the invoice's organization voids it (200, voided_by the admin), and only an open "
        "one; another member of that organization gets 403 and a paid or void invoice 409, with nothing "
        "written; to anyone outside the organization the invoice does not exist (404).",
    )


# --- roles as they are at each request, and members told apart by nothing but their key ----------------


#: addresses of one person for some, of several people for us: each spelling is another member's
ONE_ADDRESS = spellings("josé.alves@nordwind.test")
#: what happens between two requests: a member voids an invoice, or is given a role in an organization
#: (None: the membership is removed)
HISTORY_STEP = st.one_of(
    st.tuples(st.just("voids"), st.integers(0, 2), st.integers(0, 3)),
    st.tuples(st.just("becomes"), st.integers(0, 2), st.tuples(st.integers(0, 1), st.sampled_from(ROLES))),
)


@st.composite
def team_histories(draw: st.DrawFn) -> dict[str, Any]:
    """Two organizations; members whose addresses are spellings of one address (or ordinary ones), with a
    role (or none) in each; open invoices; then voids, with roles given, changed and removed between them."""
    look_alike = draw(st.booleans())
    count = draw(st.integers(1, 3))
    addresses = (
        draw(st.lists(st.sampled_from(ONE_ADDRESS), min_size=count, max_size=count, unique=True))
        if look_alike
        else [f"member{index}@portal.test" for index in range(count)]
    )
    members = draw(st.lists(st.lists(st.sampled_from(ROLES), min_size=2, max_size=2), min_size=count, max_size=count))
    invoices = draw(st.lists(st.integers(0, 1), min_size=1, max_size=4))
    steps = [
        (what, member % count, target % (len(invoices) + 1) if isinstance(target, int) else target)
        for what, member, target in draw(st.lists(HISTORY_STEP, min_size=1, max_size=8))
    ]
    return {"addresses": addresses, "members": members, "invoices": invoices, "steps": steps}


def history_in_words(history: dict[str, Any]) -> str:
    members = "; ".join(
        f"member {index} ({address!r}) is "
        + (", ".join(f"{role} of organization {o}" for o, role in enumerate(roles) if role) or "in no organization")
        for index, (address, roles) in enumerate(zip(history["addresses"], history["members"], strict=True))
    )
    invoices = "; ".join(f"invoice {index} is organization {o}'s, open" for index, o in enumerate(history["invoices"]))
    return f"Two organizations of one name; {members}; {invoices}"


def played(
    history: dict[str, Any], void: Callable[[Member, int], int]
) -> list[tuple[int, list[tuple[str, int | None]]]]:
    """The history played on fresh rows, each void through `void`: its status and the invoices after it."""
    start_ids_apart()
    organizations = OrganizationFactory.create_batch(2)
    members = [MemberFactory.create(email=address) for address in history["addresses"]]
    for member, roles in zip(members, history["members"], strict=True):
        for organization, role in zip(organizations, roles, strict=True):
            if role:
                MembershipFactory.create(member=member, organization=organization, role=role)
    invoices = [InvoiceFactory.create(customer__organization=organizations[o]) for o in history["invoices"]]

    def change(what: str, member: int, target: tuple[int, str | None]) -> None:
        organization_index, role = target
        Membership.objects.filter(member=members[member], organization=organizations[organization_index]).delete()
        if role:
            MembershipFactory.create(member=members[member], organization=organizations[organization_index], role=role)

    def answer(member: int, invoice: int) -> tuple[int, list[tuple[str, int | None]]]:
        return void(members[member], asked_invoice(invoices, invoice)), invoice_states(invoices, members)

    return replay(history["steps"], request="voids", change=change, answer=answer)


def history_step_in_words(what: str, member: int, target: Any, *, invoices: int) -> str:
    if what == "becomes":
        organization_index, role = target
        return f"member {member} becomes {role or 'nothing'} of organization {organization_index}" + (
            " (the membership is removed)" if role is None else ""
        )
    return f"member {member} voids {invoice_in_words(target, invoices)}"


@pytest.mark.lesson("ARCH-6")
@pytest.mark.contract(1, 2, 3, 7)
@pytest.mark.timeout(SCENARIO_SECONDS)
@scenarios(40)
@example(
    history={
        "addresses": ["member0@portal.test"],
        "members": [[ADMIN, None]],
        "invoices": [0, 0],
        "steps": [("voids", 0, 0), ("becomes", 0, (0, MEMBER)), ("voids", 0, 1)],
    }
)
@example(
    history={
        "addresses": [ONE_ADDRESS[0], ONE_ADDRESS[1]],
        "members": [[ADMIN, None], [None, MEMBER]],
        "invoices": [0],
        "steps": [("voids", 0, 0)],
    }
)
@given(history=team_histories())
def test_roles_count_as_they_are_at_each_request_and_only_for_their_member(
    client: Client, history: dict[str, Any]
) -> None:
    """Generated: roles given, changed and removed between voids; members whose addresses differ only in spelling"""
    expected_service = reference_services()
    answers = {
        expected_service.InvoiceNotFoundError: 404,
        PermissionDenied: 403,
        expected_service.InvoiceNotVoidableError: 409,
    }

    def through_the_api(member: Member, invoice_id: int) -> int:
        return void_as(client, member, invoice_id)[0]

    def as_the_reference(member: Member, invoice_id: int) -> int:
        try:
            expected_service.void_invoice(invoice_id, member=member)
        except tuple(answers) as refusal:
            return next(code for kind, code in answers.items() if isinstance(refusal, kind))
        return 200

    with rolled_back():
        yours = played(history, through_the_api)
    with rolled_back():
        expected = played(history, as_the_reference)

    answered = [
        Answered(
            f"answered {mine[0]}, invoices then (status, voided by member) {mine[1]}"
            + ("" if mine == theirs else f"   <- expected {theirs[0]}, invoices then {theirs[1]}"),
            wrong=mine != theirs,
        )
        for mine, theirs in zip(yours, expected, strict=True)
    ]
    in_words = partial(history_step_in_words, invoices=len(history["invoices"]))
    steps, wrong = narrated(history["steps"], answered, request="voids", in_words=in_words)
    check(
        not wrong,
        f"{history_in_words(history)}. One request after another, in the same process:\n  "
        + "\n  ".join(steps)
        + "\nA member's role counts as it is when the request comes: one given, changed or removed between two "
        "requests counts from the next one, so what a worker keeps between requests (a cache in a module, "
        "lru_cache) goes on letting a former admin void. And only the member's own memberships count: "
        "members whose addresses differ only in letter case or Unicode form are different members, often "
        "different people, and a role found through the address is someone else's. Decide from the member "
        "the request signed in, asking the database on every call.",
    )
