"""Grader of `schemas_not_models`: versioned routes, responses and requests described by schemas."""

import json
import re
import string
from collections.abc import Callable
from functools import cache, partial
from typing import TYPE_CHECKING, Any

import pydantic
import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from hypothesis import example, given
from hypothesis import strategies as st
from ninja import Schema

from dojo.grading import check
from dojo.scenarios import reference, rolled_back, scenarios
from schemas_not_models.models import Customer, Organization

from .factories import CustomerFactory, OrganizationFactory

if TYPE_CHECKING:  # what django.test.Client answers: an HttpResponse with .json(), a type of django-stubs only
    from django.test.client import _MonkeyPatchedWSGIResponse as TestResponse

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.urls("schemas_not_models.api"),
    # a deprecated but working call of the learner's (Ninja 1.7's `return 201, customer`) is reported in
    # the warnings summary, not turned into a failure by the project's `filterwarnings = error`
    pytest.mark.filterwarnings("default::DeprecationWarning"),
]

PUBLIC_FIELDS = {"id", "name", "email", "currency", "created_at"}
VALID = {"name": "Acme GmbH", "email": "ap@acme.test", "currency": "USD"}


def customers_url(organization: Organization) -> str:
    return reverse("schemas_not_models:create_customer", kwargs={"organization_id": organization.pk})


def customer_url(customer: Customer) -> str:
    kwargs = {"organization_id": customer.organization_id, "customer_id": customer.pk}
    return reverse("schemas_not_models:get_customer", kwargs=kwargs)


def post_json(client: Client, url: str, data: object) -> "TestResponse":
    client.raise_request_exception = False  # an unhandled error answers 500, as in production
    return client.post(url, json.dumps(data), content_type="application/json")


def address_of_length(length: int) -> str:
    """A valid email address exactly `length` characters long."""
    domain = "@acme.test"
    return "a" * (length - len(domain)) + domain


def shown(response: "TestResponse") -> str:
    return " ".join(response.content.decode(errors="replace").split())[:200]


@pytest.mark.contract(1)
def test_a_customer_is_created_and_read_back(client: Client) -> None:
    organization = OrganizationFactory.create()

    created = post_json(client, customers_url(organization), VALID)

    assert created.status_code == 201, shown(created)
    customer = Customer.objects.get(organization=organization)
    assert (customer.name, customer.email, customer.currency) == ("Acme GmbH", "ap@acme.test", "USD")
    read = client.get(customer_url(customer))
    assert read.status_code == 200
    for body in (created.json(), read.json()):
        assert {key: body.get(key) for key in ("id", "name", "email", "currency")} == {"id": customer.pk, **VALID}


@pytest.mark.contract(3)
def test_the_currency_defaults_to_eur(client: Client) -> None:
    organization = OrganizationFactory.create()

    created = post_json(client, customers_url(organization), {"name": "Acme GmbH", "email": "ap@acme.test"})

    assert created.status_code == 201, shown(created)
    assert created.json()["currency"] == "EUR"


@pytest.mark.contract(1)
def test_an_unknown_customer_answers_404(client: Client) -> None:
    customer = CustomerFactory.create()
    elsewhere = CustomerFactory.create()  # another organization's customer

    url = reverse(
        "schemas_not_models:get_customer",
        kwargs={"organization_id": customer.organization_id, "customer_id": elsewhere.pk},
    )

    assert client.get(url).status_code == 404


@pytest.mark.contract(1)
@pytest.mark.lesson("API-1")
def test_the_routes_are_under_api_v1(client: Client) -> None:
    customer = CustomerFactory.create()
    urls = [customers_url(customer.organization), customer_url(customer)]

    unversioned = [url for url in urls if not url.startswith("/api/v1/")]
    check(
        not unversioned,
        f"The customer routes are served at {unversioned}. Without a version in the path, the fixes of this "
        "kata (fewer fields out, stricter input) break every partner at once, and there is nowhere to put "
        "the next breaking change. Serve the API under /api/v1/, written in the code (the router's "
        "prefix), so that a future /api/v2/ can live next to it.",
    )


@pytest.mark.contract(2)
@pytest.mark.lesson("API-2")
def test_answers_hold_exactly_the_public_fields(client: Client) -> None:
    customer = CustomerFactory.create()

    answers = {
        "GET (read)": client.get(customer_url(customer)),
        "POST (create)": post_json(client, customers_url(customer.organization), VALID),
    }

    for name, response in answers.items():
        keys = set(response.json())
        leaked, missing = sorted(keys - PUBLIC_FIELDS), sorted(PUBLIC_FIELDS - keys)
        check(
            not leaked and not missing,
            f"The {name} answer has the keys {sorted(keys)}: it leaks {leaked or 'nothing'} and lacks "
            f"{missing or 'nothing'}. model_to_dict() sends whatever the model has today, and whatever it "
            "gets tomorrow: support's internal notes, the payment provider's id. Declare a response "
            "schema (response=CustomerOut) with exactly id, name, email, currency and created_at, and "
            "return the model: Ninja serializes the schema's fields and nothing else.",
        )


@pytest.mark.contract(3)
@pytest.mark.lesson("API-2")
@pytest.mark.parametrize(
    ("case", "data"),
    [
        ("name is a list", {**VALID, "name": ["Acme GmbH"]}),
        ("email is a number", {**VALID, "email": 42}),
        ("email is not an address", {**VALID, "email": "accounts payable"}),
        ("currency is not one we bill in", {**VALID, "currency": "EURO"}),
        ("currency is a real one we do not bill in", {**VALID, "currency": "CHF"}),
        ("email is missing", {"name": "Acme GmbH", "currency": "USD"}),
        ("name is empty", {**VALID, "name": ""}),
        ("name is 201 characters long", {**VALID, "name": "A" * 201}),
        ("email is 255 characters long", {**VALID, "email": address_of_length(255)}),
        ("currency is null", {**VALID, "currency": None}),
        ("email has no top-level domain", {**VALID, "email": "ap@localhost"}),
        ("email ends with a line break", {**VALID, "email": "ap@acme.test\n"}),
        ("name holds a NUL character", {**VALID, "name": "Acme\x00GmbH"}),
        ("currency is one we bill in, padded and in lower case", {**VALID, "currency": " usd"}),
        ("currency is one we bill in, in lower case", {**VALID, "currency": "gbp"}),
        ("name is 201 characters long, not all of them ASCII", {**VALID, "name": "é" * 201}),
    ],
    ids=[
        "name_list",
        "email_number",
        "email_invalid",
        "currency_unknown",
        "currency_not_billed",
        "email_missing",
        "name_empty",
        "name_too_long",
        "email_too_long",
        "currency_null",
        "email_without_tld",
        "email_trailing_newline",
        "name_with_nul",
        "currency_padded_lower_case",
        "currency_lower_case",
        "name_too_long_non_ascii",
    ],
)
def test_invalid_input_is_refused_with_422(client: Client, case: str, data: dict[str, Any]) -> None:
    organization = OrganizationFactory.create()

    response = post_json(client, customers_url(organization), data)

    stored = Customer.objects.filter(organization=organization).count()
    check(
        response.status_code == 422 and stored == 0,
        f"Creating a customer whose {case} ({json.dumps(data)}) answered {response.status_code} and stored "
        f"{stored} customer(s). json.loads() takes any shape and any type; the first wrong one is stored as "
        "it is or crashes later (a null currency meets the column's NOT NULL and answers 500). Declare the "
        "input as a schema parameter of the view (payload: CustomerIn, with the types and limits of the "
        "README, and no `| None` on a field the contract does not let be null; the email as the README's "
        "text@domain.tld, not another library's idea of an address): Ninja validates it before your code "
        "runs and answers 422 with the reasons.",
    )


@pytest.mark.contract(3)
@pytest.mark.guard("API-2")
@pytest.mark.parametrize(
    ("case", "data"),
    [
        ("name is 1 character long", {**VALID, "name": "A"}),
        ("name is 200 characters long", {**VALID, "name": "A" * 200}),
        ("email is 254 characters long", {**VALID, "email": address_of_length(254)}),
        ("name has spaces around it", {**VALID, "name": "  Acme GmbH "}),
        ("name is 200 characters long, none of them ASCII", {**VALID, "name": "é" * 200}),
        ("name is not in the Latin alphabet", {**VALID, "name": "株式会社 Ёлка"}),
    ],
    ids=["name_shortest", "name_longest", "email_longest", "name_padded", "name_longest_non_ascii", "name_non_latin"],
)
def test_input_at_its_limits_is_accepted(client: Client, case: str, data: dict[str, Any]) -> None:
    organization = OrganizationFactory.create()

    response = post_json(client, customers_url(organization), data)

    stored = list(Customer.objects.filter(organization=organization).values("name", "email", "currency"))
    check(
        response.status_code == 201 and stored == [data],
        f"Creating a customer whose {case} answered {response.status_code} ({shown(response)}) and stored "
        f"{stored}. The limits are the README's: a name of 1 to 200 characters (characters, not bytes: "
        "'é' is one), an email of up to 254 (what "
        "the model stores); a value at the limit is valid. And a valid body is stored as it was sent: a "
        "schema that strips, lowercases or otherwise rewrites a value (str_strip_whitespace, say) changes "
        "what the client asked to store.",
    )


@pytest.mark.contract(3)
@pytest.mark.lesson("API-2")
def test_unknown_fields_are_refused_with_422(client: Client) -> None:
    organization = OrganizationFactory.create()
    url = customers_url(organization)

    for extra in ({"curency": "USD"}, {"internal_notes": "VIP: never send a dunning letter"}):
        data = {"name": "Acme GmbH", "email": "ap@acme.test", **extra}
        response = post_json(client, url, data)
        check(
            response.status_code == 422,
            f"Creating a customer with the unknown field {next(iter(extra))!r} answered "
            f"{response.status_code}. An ignored field is a silent bug: a typo in 'currency' bills the "
            "customer in EUR, and a client that sends 'internal_notes' believes it set them. Refuse fields "
            'the schema does not know: model_config = ConfigDict(extra="forbid") on the input schema.',
        )


def resolved(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """A schema of the OpenAPI document with its `$ref` followed."""
    while "$ref" in schema:
        name = str(schema["$ref"]).rsplit("/", 1)[-1]
        schema = document.get("components", {}).get("schemas", {}).get(name, {})
    return schema


def json_schema(document: dict[str, Any], part: dict[str, Any]) -> dict[str, Any]:
    """The JSON schema of a request body or a response, {} when it has none."""
    content = part.get("content", {}).get("application/json", {})
    return resolved(document, content.get("schema", {})) if content else {}


@pytest.mark.contract(4)
@pytest.mark.lesson("API-2")
def test_the_openapi_schema_describes_the_request_and_the_responses() -> None:
    from schemas_not_models.api import api

    document = api.get_openapi_schema()
    paths = document.get("paths", {})

    def operation(method: str, ending: str) -> dict[str, Any]:
        """The operation of `method` on the path that ends in `ending`: the routes' shape, not their names."""
        found: list[dict[str, Any]] = [
            methods[method] for url, methods in paths.items() if url.endswith(ending) and method in methods
        ]
        check(found, f"The OpenAPI schema has no {method.upper()} …{ending}; it lists {sorted(paths)}.")
        return found[0]

    create = operation("post", "/organizations/{organization_id}/customers")
    read = operation("get", "/organizations/{organization_id}/customers/{customer_id}")
    request = json_schema(document, create.get("requestBody", {}))
    answers = {
        "the 201 answer of POST": json_schema(document, create.get("responses", {}).get(201, {})),
        "the 200 answer of GET": json_schema(document, read.get("responses", {}).get(200, {})),
    }
    problems = [
        f"{what} has the properties {sorted(schema.get('properties', {}))}"
        for what, schema in answers.items()
        if set(schema.get("properties", {})) != PUBLIC_FIELDS
    ]
    if set(request.get("properties", {})) != {"name", "email", "currency"}:
        problems.append(f"the request body has the properties {sorted(request.get('properties', {}))}")
    elif request.get("additionalProperties") is not False:
        problems.append("the request body does not say that other fields are refused (additionalProperties)")
    check(
        not problems,
        f"The OpenAPI schema (what partners generate their clients from) does not describe the contract: "
        f"{'; '.join(problems)}. A view that reads request.body by hand and returns a JsonResponse is "
        "invisible to it. With a schema parameter and response=..., Ninja documents exactly the contract it "
        "enforces: name, email and currency in, the five public fields out.",
    )


# --- every route served, not only the reference's names ---

SECRETS = {"internal_notes": "SECRET-NOTE do not extend credit", "provider_customer_id": "cus_SECRET_4242"}
_REGEX_GROUP = re.compile(r"\(\?P<(\w+)>[^)]*\)")
_ROUTE_PART = re.compile(r"<(?:\w+:)?(\w+)>")


def served_routes(urlconf: str) -> list[str]:
    """Every URL pattern the URL resolver of `urlconf` serves, whole: its own, a router's, a second API's."""

    def walk(patterns: list[URLPattern | URLResolver], prefix: str) -> list[str]:
        found: list[str] = []
        for pattern in patterns:
            text = str(pattern.pattern).removeprefix("^").removesuffix("$").removesuffix("\\Z")
            if isinstance(pattern, URLResolver):
                found += walk(pattern.url_patterns, prefix + text)
            else:
                found.append(prefix + text)
        return found

    return walk(get_resolver(urlconf).url_patterns, "")


def url_for(route: str, customer: Customer) -> str:
    """A route with its parameters filled in for `customer`: an organization's ID or the customer's."""

    def value(match: re.Match[str]) -> str:
        return str(customer.organization_id if "org" in match.group(1) else customer.pk)

    return "/" + _ROUTE_PART.sub(value, _REGEX_GROUP.sub(value, route))


def customers_in(value: object) -> list[dict[str, object]]:
    """The JSON objects of an answer that are customers (they have an email and a currency), at any depth."""
    if isinstance(value, list):
        return [customer for item in value for customer in customers_in(item)]
    if not isinstance(value, dict):
        return []
    found = [value] if {"email", "currency"} <= set(value) else []
    return found + [customer for item in value.values() for customer in customers_in(item)]


def leaked_in(response: "TestResponse") -> list[str]:
    """The fields of a customer that an answer shows beyond the five public ones."""
    text = response.content.decode(errors="replace")
    leaked = {field for field, secret in SECRETS.items() if secret in text or f'"{field}"' in text}
    try:
        customers = customers_in(json.loads(text))
    except ValueError:
        customers = []
    for customer in customers:
        leaked |= set(customer) - PUBLIC_FIELDS
    return sorted(leaked)


@pytest.mark.lesson("API-2")
@pytest.mark.contract(2, 5)
def test_no_route_the_api_serves_leaks_internal_fields(client: Client) -> None:
    """No route the kata serves, under any name or prefix, answers with a customer's internal fields"""
    customer = CustomerFactory.create(**SECRETS)
    client.raise_request_exception = False
    leaks: list[str] = []
    for route in served_routes("schemas_not_models.api"):
        url = url_for(route, customer)
        answers: tuple[tuple[str, Callable[[], TestResponse]], ...] = (
            ("GET", partial(client.get, url)),
            ("POST", partial(post_json, client, url, VALID)),
        )
        for method, answer in answers:
            response = answer()
            if response.status_code < 400 and (fields := leaked_in(response)):
                leaks.append(f"{method} {url} ({route}) answered {response.status_code} with {', '.join(fields)}")
    check(
        not leaks,
        "These routes of the kata answer with fields that are not for API clients:\n  "
        + "\n  ".join(leaks)
        + "\nEvery route the API serves (the grader asks Django's URL resolver for all of them, old ones kept "
        "for partners and new ones alike) answers a customer with the response schema: id, name, email, "
        "currency and created_at. An old route that still returns model_to_dict() leaks support's notes to "
        "every partner who calls it: remove it, or answer with the same schema.",
    )


@pytest.mark.lesson("API-2")
@pytest.mark.contract(3, 5)
def test_no_route_the_api_serves_stores_unchecked_input(client: Client) -> None:
    """No route the kata serves stores a customer from input the request schema refuses"""
    customer = CustomerFactory.create()
    client.raise_request_exception = False
    stored: list[str] = []
    for route in served_routes("schemas_not_models.api"):
        url = url_for(route, customer)
        for case, data in (
            ("the unknown field 'curency'", {**VALID, "curency": "USD"}),
            ("an email of 42", {**VALID, "email": 42}),
        ):
            before = Customer.objects.count()
            response = post_json(client, url, data)
            if Customer.objects.count() != before:
                stored.append(f"POST {url} ({route}) with {case} stored it and answered {response.status_code}")
    check(
        not stored,
        "These routes of the kata accept a customer the request schema refuses:\n  "
        + "\n  ".join(stored)
        + "\nEvery route that creates a customer (old ones kept for partners too) reads its input with the "
        "request schema, and answers 422 before anything is stored.",
    )


# --- generated input, against the reference solution's request schema ---

SCENARIO_SECONDS = 120  # 60 requests: more than one check's usual time on a loaded machine
_WORDS = st.text(alphabet=string.ascii_letters + string.digits, min_size=1, max_size=12)


@cache
def reference_input() -> type[Schema]:
    """The reference solution's request schema, which the README's contract describes."""
    schema: type[Schema] = reference("schemas_not_models.api").CustomerIn
    return schema


_LOCAL = st.text(alphabet=string.ascii_letters + string.digits + ".+_-'!#%()", min_size=1, max_size=12)
#: a label of a domain: a word, or one that an address checker of another library judges otherwise than the
#: README's text@domain.tld (a one-letter or numeric label, an underscore, a host name without a dot)
_LABEL = st.one_of(
    _WORDS,
    st.text(alphabet=string.ascii_lowercase + string.digits + "-_", min_size=1, max_size=8),
    st.sampled_from(["localhost", "x", "io", "123", "xn--bcher-kva"]),
)
#: addresses of the README's grammar, and strings beside it: the reference's schema says which are valid
_ADDRESSES = st.builds(
    lambda local, labels, space: local + "@" + ".".join(labels) + space,
    _LOCAL,
    st.lists(_LABEL, min_size=1, max_size=3),
    # a space, or a line break that `re.match(...$)` lets through at the end (Python's `$` matches before a
    # final newline; the README's address has no whitespace anywhere)
    st.sampled_from(["", "", "", " ", "\n", "\r\n"]),
)
_PADDING = st.sampled_from(["", " ", "  "])


@st.composite
def customer_bodies(draw: st.DrawFn) -> dict[str, object]:
    """A body to create a customer with: every field valid, at its limits, invalid, of the wrong type, or left out.

    Most bodies vary one field only and keep the others valid, so that the answer judges that field."""
    local, domain = draw(_WORDS), draw(_WORDS)
    valid: dict[str, st.SearchStrategy[object]] = {
        "name": st.builds(
            lambda before, first, rest, after: before + first + rest + after,
            _PADDING,
            _WORDS,
            st.text(alphabet=string.ascii_letters + " -&.éßЁ株", max_size=10),
            _PADDING,
        ),
        "email": st.just(f"{local}@{domain}.test"),
        "currency": st.sampled_from(["EUR", "USD", "GBP"]),
    }
    fields: dict[str, st.SearchStrategy[object]] = {
        "name": st.one_of(
            valid["name"],
            st.sampled_from(["", "A" * 200, "A" * 201, "Acme\x00"]),
            st.integers(),
            st.lists(_WORDS, max_size=2),
            st.none(),
        ),
        "email": st.one_of(
            valid["email"],
            _ADDRESSES,
            st.integers(244, 256).map(address_of_length),
            st.sampled_from(["accounts payable", "ap@acme", "@acme.test", "ap@@acme.test", "a p@acme.test", ""]),
            st.integers(),
            st.none(),
        ),
        "currency": st.one_of(
            valid["currency"],
            st.sampled_from(["CHF", "eur", "EURO", "", "usd ", " usd", "Gbp"]),
            st.integers(),
            st.none(),
        ),
    }
    varied = draw(st.sampled_from([None, "name", "email", "currency"]))
    body: dict[str, object] = {}
    for name, values in fields.items():
        if varied in (None, name):
            if draw(st.integers(0, 5)):
                body[name] = draw(values)
        elif name != "currency" or draw(st.integers(0, 5)):
            body[name] = draw(valid[name])
    if varied is None and draw(st.integers(0, 5)) == 0:
        body[draw(st.sampled_from(["curency", "internal_notes", "provider_customer_id", "id", "organization"]))] = "x"
    return body


@pytest.mark.lesson("API-2")
@pytest.mark.contract(3, 4)
@pytest.mark.timeout(SCENARIO_SECONDS)
@scenarios(60)
# a null where the contract has a value, a value to store as sent, an address without and with a short
# top-level domain: always tried first
@example(body={**VALID, "currency": None})
@example(body={**VALID, "name": " Acme GmbH  "})
@example(body={**VALID, "email": "ap@acme"})
@example(body={**VALID, "email": "ap@localhost"})
@example(body={**VALID, "email": "ap@acme.x"})
@example(body={**VALID, "email": "ap@acme.test\n"})
@given(body=customer_bodies())
def test_generated_input_is_refused_or_stored_as_the_contract_says(client: Client, body: dict[str, object]) -> None:
    """Generated request bodies: each is refused with 422 or stored as given, as the contract's schema decides"""
    try:
        valid: dict[str, object] | None = reference_input().model_validate(body).model_dump()
    except pydantic.ValidationError:
        valid = None
    with rolled_back():
        organization = OrganizationFactory.create()
        response = post_json(client, customers_url(organization), body)
        rows = list(Customer.objects.filter(organization=organization).values("name", "email", "currency"))
    if valid is None:
        check(
            response.status_code == 422 and not rows,
            f"Creating a customer with {json.dumps(body)} answered {response.status_code} ({shown(response)}) "
            f"and stored {len(rows)} customer(s). The README's contract refuses this body with 422 before "
            "anything is stored: name a string of 1 to 200 characters, email an address (text@domain.tld, no "
            "space) of at most 254, currency one of EUR, USD, GBP (EUR when left out), and no other field.",
        )
    else:
        check(
            response.status_code == 201 and rows == [valid] and set(response.json()) == PUBLIC_FIELDS,
            f"Creating a customer with {json.dumps(body)} answered {response.status_code} ({shown(response)}) "
            f"and stored {rows}. The README's contract accepts this body: it must answer 201 with the five "
            f"public fields and store {valid}, as it was sent (the email as the README's text@domain.tld "
            "judges it, no value stripped or rewritten).",
        )


# --- every kind of white space and control character, in every part of an address ---

#: Unicode's White_Space: what "no whitespace" in the contract means, the ASCII ones and the others
WHITE_SPACE = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + "\u2028\u2029\u202f\u205f\u3000"
)
#: characters the contract leaves open: the other control characters (Python also reads \x1c to \x1f as
#: white space, Unicode does not) and invisible format characters; refused or stored as sent, either is right
OPEN_CHARACTERS = (
    "".join(chr(code) for code in [*range(0x01, 0x20), *range(0x7F, 0xA0)] if chr(code) not in WHITE_SPACE)
    + "\u180e\u200b\u200c\u200d\u2060\ufeff"
)
#: where a character goes in `ap@acme.test`: each part of the address and each edge of it
ADDRESS_PARTS = (
    "{}ap@acme.test",
    "a{}p@acme.test",
    "ap{}@acme.test",
    "ap@{}acme.test",
    "ap@ac{}me.test",
    "ap@acme{}.test",
    "ap@acme.{}test",
    "ap@acme.te{}st",
    "ap@acme.test{}",
)


def email_answer(client: Client, organization: Organization, email: str) -> tuple[int, list[str]]:
    """The status of creating a customer with this email, and the emails stored (in a block rolled back)."""
    with rolled_back():
        response = post_json(client, customers_url(organization), {**VALID, "email": email})
        stored = list(Customer.objects.filter(organization=organization).values_list("email", flat=True))
    return response.status_code, stored


@pytest.mark.contract(3)
@pytest.mark.lesson("API-2")
@pytest.mark.timeout(SCENARIO_SECONDS)
def test_white_space_anywhere_in_an_email_is_refused(client: Client) -> None:
    """An email with white space of any kind, anywhere, is refused; other control characters are refused or
    stored as sent"""
    organization = OrganizationFactory.create()
    wrong = []
    for character in "\x00" + WHITE_SPACE + OPEN_CHARACTERS:
        for part in ADDRESS_PARTS:
            email = part.format(character)
            status, stored = email_answer(client, organization, email)
            try:
                reference_input().model_validate({**VALID, "email": email})
                refused = False
            except pydantic.ValidationError:
                refused = True
            if character in OPEN_CHARACTERS:
                right = (status, stored) in ((422, []), (201, [email]))
                expected = "422 and nothing stored, or 201 and the email stored as sent"
            else:
                right = (status, stored) == ((422, []) if refused else (201, [email]))
                expected = "422 and nothing stored" if refused else "201 and the email stored as sent"
            if not right:
                wrong.append(f"  {email!r}: answered {status} and stored {stored}; expected {expected}")
    check(
        not wrong,
        f"Creating a customer with these emails did not answer as the contract says ({len(wrong)} of them):\n"
        + "\n".join(wrong[:12])
        + ("\n  …" if len(wrong) > 12 else "")
        + "\nThe README's address is text@domain.tld without white space of any kind, anywhere: a space and a "
        "line break, and a tab, a carriage return, a no-break space, a line or paragraph separator, an "
        "ideographic space. A pattern that lists the characters it refuses one by one (' ' and '\\n', say) "
        "lets the others in, and the stored address never receives an email. Refuse the whole class, `\\s`, "
        "in each part of the pattern, anchored at both ends, and keep the NUL character out as well.",
    )
