"""Grader of `schemas_not_models`: versioned routes, responses and requests described by schemas."""

import json
from typing import Any

import pytest
from django.http import HttpResponse
from django.test import Client
from django.urls import reverse

from dojo.grading import check, unexpected_edits
from dojo.manifest import kata_by_slug
from schemas_not_models.models import Customer, Organization

from .factories import CustomerFactory, OrganizationFactory

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


def post_json(client: Client, url: str, data: object) -> HttpResponse:
    client.raise_request_exception = False  # an unhandled error answers 500, as in production
    return client.post(url, json.dumps(data), content_type="application/json")


def address_of_length(length: int) -> str:
    """A valid email address exactly `length` characters long."""
    domain = "@acme.test"
    return "a" * (length - len(domain)) + domain


def shown(response: HttpResponse) -> str:
    return " ".join(response.content.decode(errors="replace").split())[:200]


def test_a_customer_is_created_and_read_back(client: Client) -> None:
    organization = OrganizationFactory()

    created = post_json(client, customers_url(organization), VALID)

    assert created.status_code == 201, shown(created)
    customer = Customer.objects.get(organization=organization)
    assert (customer.name, customer.email, customer.currency) == ("Acme GmbH", "ap@acme.test", "USD")
    read = client.get(customer_url(customer))
    assert read.status_code == 200
    for body in (created.json(), read.json()):
        assert {key: body.get(key) for key in ("id", "name", "email", "currency")} == {"id": customer.pk, **VALID}


def test_the_currency_defaults_to_eur(client: Client) -> None:
    organization = OrganizationFactory()

    created = post_json(client, customers_url(organization), {"name": "Acme GmbH", "email": "ap@acme.test"})

    assert created.status_code == 201, shown(created)
    assert created.json()["currency"] == "EUR"


def test_an_unknown_customer_answers_404(client: Client) -> None:
    customer = CustomerFactory()
    elsewhere = CustomerFactory()  # another organization's customer

    url = reverse(
        "schemas_not_models:get_customer",
        kwargs={"organization_id": customer.organization_id, "customer_id": elsewhere.pk},
    )

    assert client.get(url).status_code == 404


@pytest.mark.lesson("API-1")
def test_the_routes_are_under_api_v1(client: Client) -> None:
    customer = CustomerFactory()
    urls = [customers_url(customer.organization), customer_url(customer)]

    unversioned = [url for url in urls if not url.startswith("/api/v1/")]
    check(
        not unversioned,
        f"The customer routes are served at {unversioned}. Without a version in the path, the fixes of this "
        "kata (fewer fields out, stricter input) break every partner at once, and there is nowhere to put "
        "the next breaking change. Serve the API under /api/v1/, written in the code (the router's "
        "prefix), so that a future /api/v2/ can live next to it.",
    )


@pytest.mark.lesson("API-2")
def test_answers_hold_exactly_the_public_fields(client: Client) -> None:
    customer = CustomerFactory()

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
    ],
)
def test_invalid_input_is_refused_with_422(client: Client, case: str, data: dict[str, Any]) -> None:
    organization = OrganizationFactory()

    response = post_json(client, customers_url(organization), data)

    stored = Customer.objects.filter(organization=organization).count()
    check(
        response.status_code == 422 and stored == 0,
        f"Creating a customer whose {case} ({json.dumps(data)}) answered {response.status_code} and stored "
        f"{stored} customer(s). json.loads() takes any shape and any type; the first wrong one is stored as "
        "it is or crashes later. Declare the input as a schema parameter of the view (payload: CustomerIn, "
        "with the types and limits of the README): Ninja validates it before your code runs and answers "
        "422 with the reasons.",
    )


@pytest.mark.guard("API-2")
@pytest.mark.parametrize(
    ("case", "data"),
    [
        ("name is 1 character long", {**VALID, "name": "A"}),
        ("name is 200 characters long", {**VALID, "name": "A" * 200}),
        ("email is 254 characters long", {**VALID, "email": address_of_length(254)}),
    ],
    ids=["name_shortest", "name_longest", "email_longest"],
)
def test_input_at_its_limits_is_accepted(client: Client, case: str, data: dict[str, Any]) -> None:
    organization = OrganizationFactory()

    response = post_json(client, customers_url(organization), data)

    stored = Customer.objects.filter(organization=organization).count()
    check(
        response.status_code == 201 and stored == 1,
        f"Creating a customer whose {case} answered {response.status_code} ({shown(response)}) and stored "
        f"{stored} customer(s). The limits are the README's: a name of 1 to 200 characters, an email of "
        "up to 254 (what the model stores); a value at the limit is valid.",
    )


@pytest.mark.lesson("API-2")
def test_unknown_fields_are_refused_with_422(client: Client) -> None:
    organization = OrganizationFactory()
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


@pytest.mark.lesson("API-2")
def test_the_openapi_schema_describes_the_request_and_the_responses() -> None:
    from schemas_not_models.api import api

    document = api.get_openapi_schema()
    paths = document.get("paths", {})

    def operation(method: str, ending: str) -> dict[str, Any]:
        """The operation of `method` on the path that ends in `ending`: the routes' shape, not their names."""
        found = [methods[method] for url, methods in paths.items() if url.endswith(ending) and method in methods]
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


@pytest.mark.guard("API-2")
def test_only_the_files_to_edit_were_changed() -> None:
    """Only the files this kata asks you to edit were changed"""
    files = kata_by_slug()["schemas_not_models"].files
    edited = unexpected_edits("schemas_not_models", files)
    check(
        not edited,
        f"You changed {', '.join(edited)}, which this kata asks you to leave as shipped (edit only "
        f"{', '.join(files)}; a new module of your own is fine). The grader grades the files as they are, "
        "and the lesson is in the files to edit: put the others back as shipped (`git diff` shows what "
        "you changed; `uv run dojo reset schemas_not_models` restores the whole kata, after a backup).",
    )
