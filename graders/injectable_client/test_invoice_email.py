"""Grader of `injectable_client`: the service gets its email client as an argument; the HTTP lives in the client."""

import importlib
import inspect
import json
import sys
import threading
from collections.abc import Callable
from functools import cache
from types import ModuleType
from typing import Any
from urllib.parse import quote, unquote

import httpx
import pytest
import respx
from django.test import Client
from hypothesis import example, given
from hypothesis import strategies as st

from dojo.grading import check
from dojo.scenarios import reference, rolled_back, scenarios
from injectable_client.models import Invoice
from injectable_client.services import send_invoice_email

from .factories import InvoiceFactory
from .fakes import FakeEmailClient, SentEmail


def transport_errors() -> tuple[type[httpx.TransportError], ...]:
    """Every error httpx raises when a request gets no answer: its transport failed (a timeout, a refused or
    dropped connection, a read or write that fails, a protocol error), by name."""
    found: list[type[httpx.TransportError]] = []
    waiting: list[type[httpx.TransportError]] = [httpx.TransportError]
    while waiting:
        error = waiting.pop()
        found.append(error)
        waiting.extend(sub for sub in error.__subclasses__() if sub.__module__ == "httpx")
    return tuple(sorted(found, key=lambda error: error.__name__))


#: what httpx raises when the provider gives no answer at all, every kind of it
TRANSPORT_ERRORS = transport_errors()

pytestmark = [
    pytest.mark.django_db,
    # a learner's deprecated but working call is reported, not failed
    pytest.mark.filterwarnings("default::DeprecationWarning"),
]

EXPECTED_TEXT = (
    "Hello Acme GmbH,\n\ninvoice INV-00042 for EUR 123.45 is due on 2026-04-30.\n\nThank you for your business."
)


def acme_invoice() -> Invoice:
    return InvoiceFactory.create(number="INV-00042", customer__name="Acme GmbH", customer__email="ap@acme.test")


def run_with(emails: FakeEmailClient, invoice_number: str) -> object:
    """Call the service with the stub client; what it returned, or the exception it raised."""
    check(
        "emails" in inspect.signature(send_invoice_email).parameters,
        "send_invoice_email() takes no `emails` argument, so its tests cannot hand it a stub: each one "
        "must patch httpx (or the provider's URLs) at the right import path, and breaks whenever the "
        "provider's API changes. Give the service a keyword-only parameter `emails: EmailClient` (a "
        "Protocol in clients.py) and call only the client's methods.",
    )
    try:
        return send_invoice_email(invoice_number, emails=emails)
    except Exception as error:  # reported to the learner below
        return error


def requests_made(router: respx.MockRouter) -> str:
    return ", ".join(f"{call.request.method} {call.request.url}" for call in router.calls)


# --- what the "Send by email" button does: unchanged by the lesson ---


@pytest.mark.contract(1)
@pytest.mark.urls("injectable_client.api")
def test_the_email_button_sends_the_invoice(client: Client, email_provider: respx.MockRouter) -> None:
    invoice = acme_invoice()
    email_provider.get("/v1/suppressions/ap@acme.test").respond(404)
    send = email_provider.post("/v1/emails").respond(200, json={"id": "em_123"})

    response = client.post(f"/api/v1/invoices/{invoice.number}/email")

    assert response.status_code == 200, response.content
    assert response.json() == {"number": "INV-00042", "email_status": "sent", "email_message_id": "em_123"}
    request = send.calls.last.request
    assert json.loads(request.content) == {
        "from": "billing@ourapp.example",
        "to": ["ap@acme.test"],
        "subject": "Invoice INV-00042",
        "text": EXPECTED_TEXT,
    }
    assert request.headers["Idempotency-Key"] == "invoice-email-INV-00042"
    invoice.refresh_from_db()
    assert (invoice.email_status, invoice.email_message_id) == (Invoice.EmailStatus.SENT, "em_123")


@pytest.mark.contract(1)
@pytest.mark.urls("injectable_client.api")
def test_the_email_button_skips_a_suppressed_address(client: Client, email_provider: respx.MockRouter) -> None:
    invoice = acme_invoice()
    email_provider.get("/v1/suppressions/ap@acme.test").respond(200, json={"reason": "hard_bounce"})
    send = email_provider.post("/v1/emails").respond(200, json={"id": "em_123"})

    response = client.post(f"/api/v1/invoices/{invoice.number}/email")

    assert response.status_code == 200, response.content
    assert response.json()["email_status"] == "suppressed"
    assert not send.called


# how the provider can fail a request: an error answer, or no answer at all
FAILURES: dict[str, httpx.Response | type[Exception]] = {
    "500": httpx.Response(500, json={"message": "internal"}),
    "timeout": httpx.ReadTimeout,
    "refused": httpx.ConnectError,
}


@pytest.mark.contract(2)
@pytest.mark.urls("injectable_client.api")
@pytest.mark.parametrize("failure", FAILURES)
@pytest.mark.parametrize("failing", ["lookup", "send"])
def test_a_failing_provider_answers_502(
    client: Client, email_provider: respx.MockRouter, failing: str, failure: str
) -> None:
    """The provider fails (an error answer, a timeout, a refused connection): 502, and the invoice unchanged"""
    invoice = acme_invoice()
    lookup = email_provider.get("/v1/suppressions/ap@acme.test")
    send = email_provider.post("/v1/emails")
    lookup.respond(404)
    send.respond(200, json={"id": "em_123"})
    fails = lookup if failing == "lookup" else send
    answer = FAILURES[failure]
    fails.mock(return_value=answer) if isinstance(answer, httpx.Response) else fails.mock(side_effect=answer)
    client.raise_request_exception = False  # a crash answers 500, as in production

    response = client.post(f"/api/v1/invoices/{invoice.number}/email")

    assert (response.status_code, response.json()) == (
        502,
        {"code": "bad_gateway", "message": "The email provider failed; try again later.", "details": []},
    )
    invoice.refresh_from_db()
    assert invoice.email_status == Invoice.EmailStatus.NOT_SENT


@pytest.mark.contract(2)
@pytest.mark.urls("injectable_client.api")
def test_an_unknown_invoice_answers_404(client: Client, email_provider: respx.MockRouter) -> None:
    response = client.post("/api/v1/invoices/INV-99999/email")

    assert (response.status_code, response.json()) == (
        404,
        {"code": "not_found", "message": "Invoice not found.", "details": []},
    )


@pytest.mark.contract(2)
@pytest.mark.urls("injectable_client.api")
def test_a_number_with_a_nul_byte_is_a_422(client: Client, email_provider: respx.MockRouter) -> None:
    response = client.post("/api/v1/invoices/INV%0000042/email")

    assert (response.status_code, response.json()["code"]) == (422, "validation_error")


# --- the lesson ---


@pytest.mark.contract(5)
@pytest.mark.lesson("ARCH-4")
def test_the_service_sends_through_the_client_it_is_given(
    emails: FakeEmailClient, no_network: respx.MockRouter
) -> None:
    invoice = acme_invoice()

    outcome = run_with(emails, invoice.number)

    check(
        not no_network.calls,
        f"send_invoice_email() was given a stub email client, yet it made HTTP requests of its own: "
        f"{requests_made(no_network)}. Everything the service needs from the provider must go through "
        "the client it receives; the provider's URLs and JSON belong in the client class in clients.py.",
    )
    expected = SentEmail("ap@acme.test", "Invoice INV-00042", EXPECTED_TEXT, "invoice-email-INV-00042")
    check(
        emails.sent == [expected],
        f"Given a stub email client, send_invoice_email() sent {emails.sent or 'nothing'} through it "
        f"(the service {'raised ' + repr(outcome) if isinstance(outcome, Exception) else 'returned'}). "
        f"Expected exactly one email through the client it was given: {expected}.",
    )
    invoice.refresh_from_db()
    check(
        (invoice.email_status, invoice.email_message_id) == (Invoice.EmailStatus.SENT, "fake-1"),
        f"The invoice must record the message ID the client returned ('fake-1'); it says "
        f"{invoice.email_status!r}, {invoice.email_message_id!r}.",
    )
    check(
        not emails.calls_in_transaction,
        f"The service called the email client's {', '.join(emails.calls_in_transaction)} inside a "
        "transaction.atomic() block. A provider call can take seconds, and the transaction (and any row "
        "lock) stays open while it waits; if the block then rolls back, the email has gone out anyway. "
        "Call the provider outside the transaction, or after it commits (rule DATA-2).",
    )


@pytest.mark.contract(5, 6)
@pytest.mark.lesson("TEST-5")
def test_a_stub_from_a_fixture_is_all_a_service_test_needs(
    emails: FakeEmailClient, no_network: respx.MockRouter
) -> None:
    invoice = acme_invoice()
    emails.suppressed.add("ap@acme.test")

    outcome = run_with(emails, invoice.number)

    invoice.refresh_from_db()
    check(
        not no_network.calls and emails.lookups == ["ap@acme.test"] and not emails.sent,
        "This test stubs the email provider with a fixture (`emails`, a fake whose address list says "
        "ap@acme.test is suppressed) and nothing else. The service asked the stub about "
        f"{emails.lookups or 'no address'}, sent {len(emails.sent)} email(s) through it and made these "
        f"HTTP requests: {requests_made(no_network) or 'none'} (it "
        f"{'raised ' + repr(outcome) if isinstance(outcome, Exception) else 'returned'}). Ask the "
        "client whether the address is suppressed (`emails.is_suppressed(address)`): then a stub from a "
        "fixture is all a service test needs, with no network and no patching.",
    )
    assert invoice.email_status == Invoice.EmailStatus.SUPPRESSED


#: answers to a suppression lookup that are neither 404 (not suppressed) nor 200 (suppressed): one or more
#: of every class, the provider's failures and the answers that only look like success
NOT_A_LOOKUP_ANSWER = (100, 201, 202, 204, 301, 302, 304, 307, 308, 400, 401, 403, 410, 429, 500, 502, 503)
#: answers to a send that send no email: redirects, and successes that carry no message ID
NOT_A_SEND_ANSWER = {
    "301 Moved Permanently": httpx.Response(301, headers={"Location": "https://mail.example/v2/emails"}),
    "307 Temporary Redirect": httpx.Response(307, headers={"Location": "https://mail.example/v2/emails"}),
    "204 No Content": httpx.Response(204),
    "200 with an HTML page": httpx.Response(200, text="<html>maintenance</html>"),
    "200 without an id": httpx.Response(200, json={"status": "queued"}),
}


@pytest.mark.contract(1, 3, 4)
@pytest.mark.lesson("ARCH-4")
def test_the_real_client_speaks_the_providers_api(email_provider: respx.MockRouter) -> None:
    clients = importlib.import_module("injectable_client.clients")
    factory = getattr(clients, "default_email_client", None)
    check(
        callable(factory),
        "clients.py has no default_email_client(): the function that builds the real email client "
        "(an HttpEmailClient holding the provider's httpx client) for the router to pass to the service.",
    )
    assert factory is not None  # for mypy: check() above has stopped the grading when there is none
    real: Any = factory()  # Any: the learner's class, checked by its behaviour
    email_provider.get("/v1/suppressions/ap@acme.test").respond(404)
    email_provider.get("/v1/suppressions/gone@acme.test").respond(200, json={"reason": "hard_bounce"})
    send = email_provider.post("/v1/emails").mock(
        side_effect=[httpx.Response(200, json={"id": "em_123"}), httpx.Response(422, json={"message": "bad address"})]
    )

    try:
        suppressed = (real.is_suppressed("ap@acme.test"), real.is_suppressed("gone@acme.test"))
        message_id = real.send(to="ap@acme.test", subject="Invoice INV-00042", text="Hello", idempotency_key="key-1")
    except Exception as error:  # reported to the learner
        suppressed, message_id = (None, None), f"{type(error).__name__}: {error}"

    check(
        suppressed == (False, True) and message_id == "em_123",
        "The real email client must ask GET /v1/suppressions/<address> (404: not suppressed, 200: "
        "suppressed) and send with POST /v1/emails, returning the provider's message ID. It answered "
        f"is_suppressed() with {suppressed} instead of (False, True) and send() with {message_id!r} "
        "instead of 'em_123'. The methods: is_suppressed(address) and send(*, to, subject, text, "
        "idempotency_key).",
    )
    request = send.calls.last.request
    assert json.loads(request.content) == {
        "from": "billing@ourapp.example",
        "to": ["ap@acme.test"],
        "subject": "Invoice INV-00042",
        "text": "Hello",
    }
    check(
        request.headers.get("Idempotency-Key") == "key-1",
        f"send(..., idempotency_key='key-1') sent the header Idempotency-Key: "
        f"{request.headers.get('Idempotency-Key')!r}. The provider sends an email once per key; without "
        "the header, a retried request (a double click, a timeout) emails the customer twice.",
    )
    # the same three calls on the reference's real client: the provider must see the same requests
    yours = requests_of(email_provider)
    asked = len(email_provider.calls)
    send.mock(side_effect=[httpx.Response(200, json={"id": "em_123"}), httpx.Response(422, json={"message": "no"})])
    reference_client: Any = reference_email_client()  # Any: the reference's class, from a module loaded by path
    reference_client.is_suppressed("ap@acme.test")
    reference_client.is_suppressed("gone@acme.test")
    reference_client.send(to="ap@acme.test", subject="Invoice INV-00042", text="Hello", idempotency_key="key-1")
    expected = requests_of(email_provider)[asked:]
    check(
        yours == expected,
        "is_suppressed('ap@acme.test'), is_suppressed('gone@acme.test') and send(to='ap@acme.test', ...) made "
        "these requests to the provider (method, URL, JSON, and the headers the provider acts on):\n"
        + "".join(f"  yours     {request}\n" for request in yours)
        + "".join(f"  expected  {request}\n" for request in expected)
        + "The provider knows us by the Authorization header of every request, the lookup as much as the send "
        "(Bearer and our API key from the MAILER_API_KEY environment variable, as email_provider_http() sends "
        "it): a request without it is refused with 401, and the button answers 502 for every invoice. Build "
        "the real client on the httpx client of email_provider_http() (or give yours the same headers), and "
        "send each request as the starter did.",
    )
    provider_error = clients.EmailProviderError
    with pytest.raises(provider_error):
        real.send(to="nobody", subject="s", text="t", idempotency_key="key-2")
    guessed: dict[int, object] = {}
    for status in NOT_A_LOOKUP_ANSWER:
        email_provider.get(f"/v1/suppressions/status-{status}@acme.test").respond(status)
        try:
            guessed[status] = real.is_suppressed(f"status-{status}@acme.test")
        except provider_error:
            continue
        except Exception as error:  # reported to the learner
            guessed[status] = error
    check(
        not guessed,
        "The provider answered GET /v1/suppressions/<address> with a status that is neither 404 nor 200, and "
        + "; ".join(
            f"to {status} is_suppressed() {'raised' if isinstance(what, Exception) else 'returned'} {what!r}"
            for status, what in guessed.items()
        )
        + ". Only a 404 means 'not suppressed' and a 200 'suppressed'. Any other answer, a 5xx or a 4xx, but "
        "also a 204 or a 301 (the provider moved the endpoint), is no answer to the question: read as "
        "'suppressed', every invoice is marked and never emailed, and nobody sees an error. Raise "
        "EmailProviderError for anything but 404 and 200, so that the button answers 502 instead of guessing.",
    )
    not_sent: dict[str, object] = {}
    for answer, response in NOT_A_SEND_ANSWER.items():
        email_provider.post("/v1/emails").mock(return_value=response)
        try:
            not_sent[answer] = real.send(to="ap@acme.test", subject="s", text="t", idempotency_key=f"key-{answer}")
        except provider_error:
            continue
        except Exception as error:  # reported to the learner
            not_sent[answer] = error
    check(
        not not_sent,
        "The provider answered POST /v1/emails without sending the email, and "
        + "; ".join(
            f"to {answer} send() {'raised' if isinstance(what, Exception) else 'returned'} {what!r}"
            for answer, what in not_sent.items()
        )
        + ". Only a 2xx answer whose JSON holds the message ID is a send: a redirect (the provider moved "
        "the endpoint) or an answer without an ID is no email sent, and an exception other than "
        "EmailProviderError makes the button answer 500. Raise EmailProviderError for those too, so "
        "that the button answers 502 and the invoice is not marked as emailed.",
    )
    silent: dict[str, list[str]] = {}
    attempts: tuple[tuple[str, Callable[[], object]], ...] = (
        ("is_suppressed()", lambda: real.is_suppressed("slow@acme.test")),
        ("send()", lambda: real.send(to="ap@acme.test", subject="s", text="t", idempotency_key="key-3")),
    )
    for transport_error in TRANSPORT_ERRORS:
        email_provider.get("/v1/suppressions/slow@acme.test").mock(side_effect=transport_error)
        email_provider.post("/v1/emails").mock(side_effect=transport_error)
        for call, attempt in attempts:
            try:
                what = attempt()
            except provider_error:
                continue
            except Exception as error:  # reported to the learner
                what = error
            shown = f"{type(what).__name__} out" if isinstance(what, Exception) else f"{what!r} back"
            silent.setdefault(call, []).append(f"httpx.{transport_error.__name__} (it let {shown})")
    check(
        not silent,
        "The provider did not answer, and the client did not raise EmailProviderError: "
        + "; ".join(f"{call} on {', '.join(errors)}" for call, errors in silent.items())
        + ". Every way a request gets no answer is a failure of the provider: a timeout, a refused or dropped "
        "connection, a read or write that fails, a protocol error. The client catches the HTTP library's "
        "errors as a family (their common base class, not a list of the ones you thought of) and raises "
        "EmailProviderError, so that the button answers 502, not 500, and no caller has to know which "
        "library the client uses.",
    )
    looked_up: list[str] = []

    def lookup(request: httpx.Request) -> httpx.Response:
        looked_up.append(unquote(request.url.raw_path.decode().removeprefix("/v1/suppressions/")))
        return httpx.Response(404)

    email_provider.get(url__startswith=f"{PROVIDER}/v1/suppressions/").mock(side_effect=lookup)
    odd = ["a#b@acme.test", "q?x=1@acme.test", "eu/ap@acme.test", "100%25@acme.test"]
    for address in odd:
        try:
            real.is_suppressed(address)
        except Exception:  # the address asked about is what is checked
            looked_up.append("(no request)")
    check(
        looked_up == odd,
        f"is_suppressed() asked the provider about {looked_up} for the addresses {odd}. The address is one "
        "segment of the path: unescaped, a '#' starts a fragment, a '?' a query and a '/' another segment, "
        "and the provider is asked about someone else. Escape it (urllib.parse.quote(address, safe='@')).",
    )


def fresh_default_email_client(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The learner's default_email_client() from clients.py imported anew, so that it starts as in a new process
    (the loaded module comes back after the test). Any: the learner's function, checked here to be callable."""
    package = importlib.import_module("injectable_client")
    monkeypatch.delitem(sys.modules, "injectable_client.clients")
    monkeypatch.setattr(package, "clients", package.clients)
    clients = importlib.import_module("injectable_client.clients")
    factory: Any = getattr(clients, "default_email_client", None)
    check(
        callable(factory),
        "clients.py has no default_email_client(): the function that builds the real email client "
        "(an HttpEmailClient holding the provider's httpx client) for the router to pass to the service.",
    )
    return factory


def record_httpx_clients(monkeypatch: pytest.MonkeyPatch) -> list[httpx.Client]:
    """Every httpx client built from now on, in the order built."""
    built: list[httpx.Client] = []
    build = httpx.Client.__init__

    def record(client: httpx.Client, *args: Any, **kwargs: Any) -> None:
        built.append(client)
        build(client, *args, **kwargs)

    monkeypatch.setattr(httpx.Client, "__init__", record)
    return built


CLICKS = 3


@pytest.mark.contract(4)
@pytest.mark.lesson("ARCH-4")
def test_the_default_client_is_built_once_and_shared(
    monkeypatch: pytest.MonkeyPatch, email_provider: respx.MockRouter
) -> None:
    """Clicks that each call default_email_client() share one real client: no connection pool per click."""
    built = record_httpx_clients(monkeypatch)
    factory = fresh_default_email_client(monkeypatch)
    email_provider.get(url__startswith=f"{PROVIDER}/v1/suppressions/").respond(404)
    given: list[object] = []
    for _ in range(CLICKS):
        emails: Any = factory()  # Any: the learner's class, checked by its behaviour
        given.append(emails)
        emails.is_suppressed("ap@acme.test")
    open_pools = [client for client in built if not client.is_closed]
    check(
        len(open_pools) <= 1,
        f"{CLICKS} clicks of the button, each calling default_email_client() and asking the provider once, "
        f"left {len(open_pools)} httpx clients open: each call built a new real client with a connection pool "
        "of its own, and nobody closes it. No connection is reused (every click pays a new TLS handshake) and "
        "the sockets leak until the process ends. Build the real client once, on first use, and hand the "
        "same one to every caller: decorate default_email_client() with functools.cache.",
    )
    distinct = {id(client) for client in given}
    check(
        len(distinct) == 1,
        f"default_email_client() was called {CLICKS} times, each call followed by a lookup: it returned "
        f"{len(distinct)} different {type(given[0]).__name__} objects. README item 4: the real client is shared "
        "by the process, every call getting the same object, built once on first use. Decorate "
        "default_email_client() with functools.cache, with nothing per call.",
    )


@pytest.mark.contract(4)
@pytest.mark.lesson("ARCH-4")
@pytest.mark.threads  # the workers of a threaded server are threads of their own
def test_every_thread_gets_the_same_default_client(
    monkeypatch: pytest.MonkeyPatch, email_provider: respx.MockRouter
) -> None:
    """The workers of a threaded server, all at once, get the client the first call built: one per process."""
    factory = fresh_default_email_client(monkeypatch)
    email_provider.get(url__startswith=f"{PROVIDER}/v1/suppressions/").respond(404)
    first: Any = factory()  # Any: the learner's class, checked by its behaviour
    first.is_suppressed("ap@acme.test")
    given: list[object] = [first]  # every client the factory returned, in the main thread and in the workers'
    built_later: list[object] = []  # clients of the same class built after the first
    shared_type: Any = type(first)  # Any: the learner's class
    build_shared = shared_type.__init__

    def record_shared(client: object, *args: Any, **kwargs: Any) -> None:
        built_later.append(client)
        build_shared(client, *args, **kwargs)

    if shared_type.__module__.split(".")[0] == "injectable_client":  # a class of the kata's own, not a library's
        monkeypatch.setattr(shared_type, "__init__", record_shared)
    workers, start = 4, threading.Barrier(4)
    failed: list[BaseException] = []

    def worker() -> None:
        start.wait()
        try:
            for _ in range(CLICKS):
                client: Any = factory()  # Any: as above
                given.append(client)
                client.is_suppressed("ap@acme.test")
        except Exception as error:  # reported to the learner below
            failed.append(error)

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    distinct = {id(client) for client in given}
    check(
        not failed and len(distinct) == 1 and not built_later,
        f"default_email_client() was called once in the test's thread, then {CLICKS} times in each of "
        f"{workers} threads at once (the workers of a threaded server), each call followed by a lookup: it "
        f"returned {len(distinct)} different {shared_type.__name__} object(s) to those {len(given)} calls, and "
        f"built {len(built_later)} more after the first"
        + (f"; the calls raised {failed[0]!r}" if failed else "")
        + ". README item 4: the real client is shared by the process, every call from any thread getting the "
        "same object, built once on first use. A client per thread (threading.local) or per call builds a "
        "connection pool each time and never reuses one; an httpx client serves every thread of the process. "
        "Decorate default_email_client() with functools.cache, with nothing per thread or per call.",
    )


@pytest.mark.contract(5)
@pytest.mark.guard("ARCH-4")
def test_the_service_has_no_default_email_client() -> None:
    """The service's `emails` parameter has no default: every caller passes a client."""
    parameter = inspect.signature(send_invoice_email).parameters.get("emails")
    check(
        parameter is None or parameter.default is inspect.Parameter.empty,
        f"send_invoice_email() has `emails` with a default ({parameter and parameter.default!r}). With a "
        "default, a caller (or a test) that forgets the argument silently gets the real provider, or none: "
        "the dependency is hidden again. Let every caller pass the client; the router passes "
        "default_email_client().",
    )


@pytest.mark.contract(4)
@pytest.mark.guard("ARCH-4")
def test_no_email_client_is_built_at_import(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[str] = []
    build = httpx.Client.__init__

    def record(client: httpx.Client, *args: Any, **kwargs: Any) -> None:
        built.append(str(kwargs.get("base_url", "")))
        build(client, *args, **kwargs)

    monkeypatch.setattr(httpx.Client, "__init__", record)
    package = importlib.import_module("injectable_client")
    for name in ("clients", "services", "api"):  # imported anew here; the loaded ones come back after the test
        monkeypatch.delitem(sys.modules, f"injectable_client.{name}")
        monkeypatch.setattr(package, name, getattr(package, name))
    for name in ("clients", "services", "api"):
        importlib.import_module(f"injectable_client.{name}")

    check(
        not built,
        f"Importing the kata's modules builds {len(built)} httpx client(s) (base URL {built}): a real email "
        "client is created at import time, as a module-level global or a default argument. Every "
        "process that imports the module (a test run, a management command) then holds the provider's "
        "client and its API key, and a test that forgets to pass a stub talks to the provider. Build "
        "the real client in a factory (default_email_client()) that the router calls.",
    )


# --- generated provider answers, against the reference solution ---

SCENARIO_SECONDS = 120  # 40 requests, each run twice: more than one check's usual time on a loaded machine
PROVIDER = "https://api.mailer.example"


@cache
def reference_services() -> ModuleType:
    """The reference solution's services (and, beside them, its clients), on the learner's models."""
    return reference("injectable_client.services")


# the provider gives no answer at all: each way httpx can say so, by name
NO_ANSWER: dict[str, type[Exception]] = {f"no answer ({error.__name__})": error for error in TRANSPORT_ERRORS}
#: the provider's answers to a lookup and to a send, as statuses
LOOKUP_STATUSES = (404, 404, 200, 200, 204, 301, 304, 400, 401, 403, 429, 500, 502, 503)
SEND_STATUSES = (200, 200, 201, 202, 204, 301, 400, 404, 409, 422, 429, 500, 503)
#: addresses whose spelling matters: a plus, quotes, mixed case (the provider matches an address as given)
KNOWN_ADDRESSES = (
    *("ap@acme.test", "billing+eu@acme.test", "o'neil@acme.test"),
    *("Ann.Lee@Example.com", "AP@ACME.TEST", "Billing+EU@Acme.test"),
    *("a#b@acme.test", "q?x=1@acme.test", "eu/ap@acme.test", "100%25@acme.test", '"ann lee"@acme.test'),
)
#: what an address can hold that a path cannot carry as it is: a space, the URL's delimiters, a literal plus
#: and percent sign, quotes, and letters beyond ASCII
ODD_CHARACTERS = " /+%?#&=;:,'\"!$*()[]~\\\u00e9\u00fc\u4e2d\U0001f600"
LOCAL_PART = st.text(
    alphabet=st.sampled_from(ODD_CHARACTERS) | st.sampled_from("abcXYZ019._-"), min_size=1, max_size=10
).filter(lambda local: local.strip() == local)
#: an address as a customer may have it stored: a known spelling, or a generated one with odd characters
ADDRESSES = st.sampled_from(KNOWN_ADDRESSES) | st.builds(
    "{}@{}".format, LOCAL_PART, st.sampled_from(["acme.test", "ex\u00e4mple.test"])
)


def provider_answer(statuses: tuple[int, ...]) -> st.SearchStrategy[int | str]:
    """A status of `statuses`, or (one time in four) no answer at all, in any of the ways httpx says so."""
    return st.integers(0, 3).flatmap(
        lambda roll: st.sampled_from(list(NO_ANSWER)) if roll == 0 else st.sampled_from(statuses)
    )


@st.composite
def provider_days(draw: st.DrawFn) -> dict[str, Any]:
    """An invoice (or an unknown number), an address, and how the provider answers each request."""
    return {
        "known": draw(st.integers(0, 7)) > 0,
        "address": draw(ADDRESSES),
        "cents": draw(st.sampled_from([0, 1, 12_345, 99_999_999])),
        "lookup": draw(provider_answer(LOOKUP_STATUSES)),
        "send": draw(provider_answer(SEND_STATUSES)),
        "message_id": draw(st.sampled_from(["em_123", "0", "a" * 64]) | st.integers(0, 10**9)),
    }


def day_in_words(day: dict[str, Any]) -> str:
    invoice = f"invoice INV-00042 of {day['cents']} cents to {day['address']}" if day["known"] else "an unknown invoice"
    return (
        f"{invoice}; the provider answers the suppression lookup with {day['lookup']} and the send with {day['send']} "
        f"(message ID {day['message_id']!r})"
    )


def provider_answering(router: respx.MockRouter, day: dict[str, Any]) -> None:
    lookup = router.get(url__startswith=f"{PROVIDER}/v1/suppressions/")
    if day["lookup"] in NO_ANSWER:
        lookup.mock(side_effect=NO_ANSWER[day["lookup"]])
    else:
        lookup.respond(day["lookup"], json={"reason": "hard_bounce"} if day["lookup"] == 200 else {"message": "no"})
    send = router.post(f"{PROVIDER}/v1/emails")
    if day["send"] in NO_ANSWER:
        send.mock(side_effect=NO_ANSWER[day["send"]])
    else:
        answer: dict[str, object] = {"message": "refused"} if day["send"] >= 300 else {"id": day["message_id"]}
        send.respond(day["send"], json={} if day["send"] == 204 else answer)  # a 204 carries no message ID


def url_as_sent(url: httpx.URL) -> str:
    """The URL with each path segment escaped one way: two spellings of one segment (`@`, `%40`) are one."""
    segments = [quote(unquote(segment), safe="@+'") for segment in url.raw_path.decode().split("?")[0].split("/")]
    return f"{url.scheme}://{url.host}" + "/".join(segments) + (f"?{url.query.decode()}" if url.query else "")


#: the headers the provider acts on: who we are (our API key), and which send a repeated request repeats
PROVIDER_HEADERS = ("Authorization", "Idempotency-Key")
#: one request as the provider sees it: method, URL, JSON body, and the provider's headers that it carries
SeenRequest = tuple[str, str, object, dict[str, str]]


def as_seen(request: httpx.Request) -> SeenRequest:
    headers = {name: request.headers[name] for name in PROVIDER_HEADERS if name in request.headers}
    body = json.loads(request.content) if request.content else None
    return request.method, url_as_sent(request.url), body, headers


def requests_of(router: respx.MockRouter) -> list[SeenRequest]:
    return [as_seen(call.request) for call in router.calls]


#: what a press of the button gives: its status, its answer (or error code), each invoice's (email_status,
#: email_message_id), and the requests to the provider
Press = tuple[int, object, list[tuple[str, str]], list[SeenRequest]]
PRESS_LABELS = (
    "status",
    "answer (or error code)",
    "invoices' (email_status, email_message_id)",
    "requests to the provider",
)


def recorded() -> list[tuple[str, str]]:
    """Each invoice's email status and message ID, in the order of their numbers."""
    return list(Invoice.objects.order_by("number").values_list("email_status", "email_message_id"))


def pressed(client: Client, number: str, router: respx.MockRouter) -> Press:
    """Press the learner's button once: what the router answered, recorded and asked."""
    response = client.post(f"/api/v1/invoices/{number}/email")
    body = response.json() if response.headers.get("Content-Type", "").startswith("application/json") else {}
    answer = body if response.status_code == 200 else body.get("code")
    return response.status_code, answer, recorded(), requests_of(router)


def pressed_on_the_reference(emails: object, number: str, router: respx.MockRouter) -> Press:
    """The reference's service, given the reference's real client `emails`: what its router would answer."""
    services = reference_services()
    clients = importlib.import_module(f"{services.__package__}.clients")
    status: int
    answer: object
    try:
        invoice = services.send_invoice_email(number, emails=emails)
        status, answer = (
            200,
            {
                "number": invoice.number,
                "email_status": invoice.email_status,
                "email_message_id": invoice.email_message_id,
            },
        )
    except Invoice.DoesNotExist:
        status, answer = 404, "not_found"
    except clients.EmailProviderError:
        status, answer = 502, "bad_gateway"
    return status, answer, recorded(), requests_of(router)


@cache
def reference_email_client() -> object:
    """The reference's real client, as its router gets it: one for the whole process."""
    clients = importlib.import_module(f"{reference_services().__package__}.clients")
    return clients.HttpEmailClient(clients.email_provider_http())


def differences(yours: Press, expected: Press) -> str:
    return "\n".join(
        f"  {label}: yours {mine!r}\n{' ' * (len(label) + 4)}expected {theirs!r}"
        for label, mine, theirs in zip(PRESS_LABELS, yours, expected, strict=True)
        if mine != theirs
    )


def invoice_of(address: str, cents: int = 12_345, number: str = "INV-00042") -> Invoice:
    return InvoiceFactory.create(
        number=number, customer__name="Acme GmbH", customer__email=address, amount_due_cents=cents
    )


@pytest.mark.guard("ARCH-4")
@pytest.mark.contract(1, 2)
@pytest.mark.urls("injectable_client.api")
@pytest.mark.timeout(SCENARIO_SECONDS)
@scenarios(40)
# always tried: an address in mixed case that the provider has suppressed under exactly that spelling
@example(
    day={
        "known": True,
        "address": "Ann.Lee@Example.com",
        "cents": 12_345,
        "lookup": 200,
        "send": 200,
        "message_id": "em_123",
    }
)
# always tried: an address with a space (a quoted local part), which a path escapes as %20 and never as '+'
@example(
    day={"known": True, "address": '"ann lee"@acme.test', "cents": 1, "lookup": 404, "send": 200, "message_id": "em_1"}
)
@given(day=provider_days())
def test_the_button_asks_sends_and_answers_as_the_reference_does(client: Client, day: dict[str, Any]) -> None:
    """Generated provider answers: the button makes the requests, records and answers what the reference does"""
    client.raise_request_exception = False  # a crash answers 500, as in production
    number = "INV-00042" if day["known"] else "INV-99999"

    with rolled_back(), respx.mock(assert_all_called=False) as router:
        invoice_of(day["address"], day["cents"])
        provider_answering(router, day)
        yours = pressed(client, number, router)

    with rolled_back(), respx.mock(assert_all_called=False) as router:
        invoice_of(day["address"], day["cents"])
        provider_answering(router, day)
        expected = pressed_on_the_reference(reference_email_client(), number, router)

    check(
        yours == expected,
        f"POST /api/v1/invoices/{number}/email, with {day_in_words(day)}:\n"
        + differences(yours, expected)
        + "\nThe button must ask and send exactly as before (the same URLs, JSON, API key and Idempotency-Key, the "
        "customer's address exactly as stored: not lower-cased, since the provider matches it as given, and "
        "escaped as one path segment the way a path escapes it: a space is %20, a '+' a plus, and a '#', '?', "
        "'/' or '%' stays part of the address), treat only a 404 as 'not suppressed' and a 200 as "
        "'suppressed', take any other answer of the provider, and no answer at all in any of the ways the HTTP "
        "library reports it, as its failure (EmailProviderError, 502, the invoice unchanged), and record the "
        "message ID.",
    )


# --- generated sequences of presses: each press asks anew ---

#: the invoices a sequence of presses works on
NUMBERS = ("INV-00042", "INV-00043")
SEQUENCE_ADDRESSES = ("ap@acme.test", "Ann.Lee@Example.com", "billing+eu@acme.test")


@st.composite
def provider_weeks(draw: st.DrawFn) -> dict[str, Any]:
    """Two invoices (of one address or two), and two to four presses of the button on them, each press met by
    answers of its own: a lookup that says suppressed now and not later, a provider that fails and recovers."""
    first = draw(st.sampled_from(SEQUENCE_ADDRESSES))
    return {
        "addresses": [first, draw(st.sampled_from(SEQUENCE_ADDRESSES)) if draw(st.booleans()) else first],
        "presses": draw(
            st.lists(
                st.fixed_dictionaries(
                    {
                        "invoice": st.sampled_from([0, 0, 1]),
                        "lookup": provider_answer((404, 404, 200, 200, 500, 503)),
                        "send": provider_answer((200, 200, 201, 500, 503)),
                        "message_id": st.sampled_from(["em_1", "em_2"]),
                    }
                ),
                min_size=2,
                max_size=4,
            )
        ),
    }


def press_in_words(press: dict[str, Any]) -> str:
    return (
        f"{NUMBERS[press['invoice']]}: the lookup answered {press['lookup']}, the send {press['send']} "
        f"(message ID {press['message_id']!r})"
    )


@pytest.mark.guard("ARCH-4")
@pytest.mark.contract(1, 2, 4)
@pytest.mark.urls("injectable_client.api")
@pytest.mark.timeout(2 * SCENARIO_SECONDS)  # up to 4 presses an example: a client built per call is slow to build
@scenarios(20)
# always tried: an address suppressed, then no longer (the account manager had the bounce cleared)
@example(
    week={
        "addresses": ["ap@acme.test", "ap@acme.test"],
        "presses": [
            {"invoice": 0, "lookup": 200, "send": 200, "message_id": "em_1"},
            {"invoice": 0, "lookup": 404, "send": 200, "message_id": "em_1"},
        ],
    }
)
# always tried: a provider that does not answer, then is back, for another invoice of the same address
@example(
    week={
        "addresses": ["ap@acme.test", "ap@acme.test"],
        "presses": [
            {"invoice": 0, "lookup": 404, "send": "no answer (ConnectError)", "message_id": "em_1"},
            {"invoice": 1, "lookup": 404, "send": 200, "message_id": "em_2"},
        ],
    }
)
@given(week=provider_weeks())
def test_each_press_asks_the_provider_anew(client: Client, week: dict[str, Any]) -> None:
    """Generated sequences of presses: each one asks, sends, records and answers as the reference's does"""
    client.raise_request_exception = False  # a crash answers 500, as in production
    yours: list[Press] = []
    expected: list[Press] = []
    for presses, run in ((yours, "yours"), (expected, "reference")):
        emails = reference_email_client()
        with rolled_back():
            for number, address in zip(NUMBERS, week["addresses"], strict=True):
                invoice_of(address, number=number)
            for press in week["presses"]:
                with respx.mock(assert_all_called=False) as router:
                    provider_answering(router, press)
                    number = NUMBERS[press["invoice"]]
                    presses.append(
                        pressed(client, number, router)
                        if run == "yours"
                        else pressed_on_the_reference(emails, number, router)
                    )
    differing = next(
        (index for index, (mine, theirs) in enumerate(zip(yours, expected, strict=True)) if mine != theirs), 0
    )
    earlier = week["presses"][:differing]
    check(
        yours == expected,
        f"Two invoices, of the customers {week['addresses'][0]} and {week['addresses'][1]}, and the "
        "button pressed on them in turn:\n"
        + "".join(f"  press {index + 1}, {press_in_words(press)}\n" for index, press in enumerate(earlier))
        + f"Press {differing + 1}, {press_in_words(week['presses'][differing])}, went another way:\n"
        + differences(yours[differing], expected[differing])
        + "\nEach press asks the provider anew and acts on its answer to that press alone: an address "
        "suppressed yesterday may be cleared today, and a provider that failed a moment ago may answer now. "
        "The real client is shared by the whole process, so it keeps no answer or failure of one call for the "
        "next (no cache of suppressed addresses, no 'the provider is down' flag), and the service does not "
        "skip the lookup because of what an earlier press recorded on the invoice.",
    )
