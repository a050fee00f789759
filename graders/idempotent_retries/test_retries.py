"""Grader of `idempotent_retries`: a keyed POST is retried, an unkeyed one is not, and Retry-After is honoured."""

import json
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from functools import cache, partial
from http import HTTPStatus
from typing import Any
from unittest import mock

import httpx
import pytest
import respx
import stamina
from hypothesis import example, given
from hypothesis import strategies as st

from dojo.grading import check
from dojo.scenarios import reference, scenarios
from idempotent_retries.clients import PaymentProviderClient
from idempotent_retries.http import ProviderError, ProviderHttp
from idempotent_retries.models import ChargeAttempt, Invoice
from idempotent_retries.services import collect_invoice

from .factories import InvoiceFactory

pytestmark = pytest.mark.filterwarnings("default::DeprecationWarning")  # a learner's deprecated call is reported

KEY = "charge-attempt-1842"
CHARGE = {"amount_cents": 12_000, "currency": "EUR"}
MAX_ATTEMPTS = 10
RUNAWAY_ATTEMPTS = 30  # the mocked provider stops a retry loop here, so that "retry forever" ends and is reported
RETRY_AFTER_SECONDS = 7
MAX_RETRY_AFTER_SECONDS = 20.0  # the README: a longer Retry-After ends the retries
RETRY_BUDGET_SECONDS = 30.0  # the README: no resend once this long has gone by since the first send
LONGEST_WAIT_SECONDS = 60.0  # a provider that asks for an hour is down: waiting for it holds the worker

TRANSIENT_FAILURES: dict[str, Callable[[], httpx.Response | Exception]] = {
    "a read timeout (the charge may have been made; its answer was lost)": lambda: httpx.ReadTimeout("no answer"),
    "503 Service Unavailable": lambda: httpx.Response(503),
    "502 Bad Gateway": lambda: httpx.Response(502),
    "a refused connection": lambda: httpx.ConnectError("connection refused"),
}


class RunawayRetriesError(BaseException):
    """Raised by the mocked provider once a retry loop has gone on far too long; not an Exception, so no
    `except Exception` or retry predicate of the learner's catches it."""


PROVIDER = "https://api.payments.example"
#: the same provider behind our egress gateway: every path of the client is under a prefix of the gateway's
GATEWAY = "https://egress.example/payment-provider"


@cache  # one client per base URL, as in production: building an httpx client (its TLS context) takes a while
def payments(base_url: str = PROVIDER) -> PaymentProviderClient:
    return PaymentProviderClient(api_key="pay-key", base_url=base_url)


def charge(base_url: str = PROVIDER) -> object:
    """What charge() returned, or the exception it raised."""
    try:
        return payments(base_url).charge(amount_cents=12_000, currency="EUR", idempotency_key=KEY)
    except Exception as error:  # the grader reports whatever went wrong
        return error


def charge_status() -> object:
    try:
        return payments().charge_status("ch_1")
    except Exception as error:  # the grader reports whatever went wrong
        return error


def describe(outcome: object) -> str:
    if isinstance(outcome, RunawayRetriesError):
        return f"was still retrying when the grader stopped it after {RUNAWAY_ATTEMPTS} attempts"
    if isinstance(outcome, Exception):
        return f"raised {type(outcome).__name__}: {outcome}"
    return f"returned {outcome!r}"


def attempts(count: int) -> str:
    return f"{count} attempt" + ("" if count == 1 else "s")


@contextmanager
def real_retry_policy(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[float]]:
    """stamina's test mode off, so that the waits and the attempts are the ones the code configures;
    the waits are recorded, not slept, and the clock moves on by each wait, so that a time budget
    ends the retries as it would in production."""
    waits: list[float] = []
    real_monotonic = time.monotonic
    monkeypatch.setattr(time, "sleep", waits.append)
    monkeypatch.setattr(time, "monotonic", lambda: real_monotonic() + sum(waits))
    with stamina.set_testing(False):
        yield waits


def recorded_calls(answers: Callable[[int], httpx.Response]) -> tuple[list[float], Callable[..., httpx.Response]]:
    """A respx side effect that answers the n-th call with `answers(n)` and records when each call came."""
    times: list[float] = []

    def answer(request: httpx.Request) -> httpx.Response:
        times.append(time.monotonic())
        if len(times) >= RUNAWAY_ATTEMPTS:
            raise RunawayRetriesError
        return answers(len(times))

    return times, answer


# --- what the client does: unchanged by the lesson ---


@pytest.mark.contract(7)
def test_a_charge_returns_the_providers_charge_id(provider: respx.MockRouter) -> None:
    route = provider.post("/v1/charges").respond(201, json={"id": "ch_1"})

    assert charge() == "ch_1"
    request = route.calls.last.request
    assert json.loads(request.content) == CHARGE
    assert (request.headers["Idempotency-Key"], request.headers["Authorization"]) == (KEY, "Bearer pay-key")


@pytest.mark.contract(1)
def test_a_charge_status_is_read_again_after_a_503(provider: respx.MockRouter) -> None:
    route = provider.get("/v1/charges/ch_1").mock(
        side_effect=[httpx.Response(503), httpx.Response(200, json={"status": "succeeded"})]
    )

    assert (charge_status(), route.call_count) == ("succeeded", 2)


@pytest.mark.contract(3)
def test_a_declined_charge_is_a_provider_error(provider: respx.MockRouter) -> None:
    provider.post("/v1/charges").respond(402, json={"error": "card_declined"})

    outcome = charge()

    assert isinstance(outcome, ProviderError), describe(outcome)
    assert "402" in str(outcome)


@pytest.mark.contract(7)
@pytest.mark.django_db
def test_collecting_an_invoice_charges_it_and_notes_it(provider: respx.MockRouter) -> None:
    invoice = InvoiceFactory.create(number="INV-00042")
    charges = provider.post("/v1/charges").respond(201, json={"id": "ch_1"})
    notes = provider.post("/v1/charges/ch_1/notes").respond(201, json={"id": "note_1"})

    attempt = collect_invoice(invoice.pk, payments=payments())

    attempt.refresh_from_db()
    invoice.refresh_from_db()
    assert (attempt.status, attempt.provider_charge_id, invoice.status) == (
        ChargeAttempt.Status.SUCCEEDED,
        "ch_1",
        Invoice.Status.PAID,
    )
    assert charges.calls.last.request.headers["Idempotency-Key"] == f"charge-attempt-{attempt.pk}"
    assert json.loads(notes.calls.last.request.content) == {"text": "Invoice INV-00042"}


# --- the lesson ---


@pytest.mark.contract(1)
@pytest.mark.lesson("ARCH-5")
def test_a_keyed_charge_is_retried_after_a_transient_failure() -> None:
    problems = []
    with respx.mock(assert_all_called=False) as router:
        for base_url in (PROVIDER, GATEWAY):
            route = router.post(f"{base_url}/v1/charges")
            where = "" if base_url == PROVIDER else f" (through the gateway, {base_url}/v1/charges)"
            for failure, make in TRANSIENT_FAILURES.items():
                route.reset()
                route.mock(side_effect=[make(), httpx.Response(201, json={"id": "ch_1"})])
                outcome = charge(base_url)
                requests = [call.request for call in route.calls]
                keys = {request.headers.get("Idempotency-Key") for request in requests}
                bodies = {request.content for request in requests}
                if len(requests) != 2 or outcome != "ch_1":
                    problems.append(f"after {failure}{where}: {attempts(len(requests))}, then it {describe(outcome)}")
                elif keys != {KEY} or len(bodies) != 1:
                    problems.append(
                        f"after {failure}{where}: the resend carried other keys or another body: "
                        f"{sorted(map(str, keys))}"
                    )

    check(
        not problems,
        "charge() sends POST /v1/charges with an Idempotency-Key, and failed on a single transient error "
        "that a second attempt would have passed:\n"
        + "\n".join(f"  {problem}" for problem in problems)
        + "\nThe provider keeps the result of the first request it received with a key and answers any "
        "resend with that key the same way: sending the same request again, with the same key, cannot "
        "charge twice. So the wrapper may retry a POST that carries an Idempotency-Key exactly as it "
        "retries a GET (is_retryable() in http.py), and must resend it unchanged. It is the key that makes "
        "the resend safe, not the path: the same charge reached through a gateway, under another path, or "
        "any other keyed POST (a refund) is retried too, and a POST without a key never is.",
    )


@pytest.mark.contract(2)
@pytest.mark.guard("ARCH-5")
def test_a_post_without_a_key_is_sent_once(provider: respx.MockRouter) -> None:
    route = provider.post("/v1/charges/ch_1/notes")
    problems = []
    failures: dict[str, Callable[[], httpx.Response | Exception]] = {
        "503 Service Unavailable": lambda: httpx.Response(503),
        "a read timeout (the request arrived; its answer was lost)": lambda: httpx.ReadTimeout("no answer"),
    }
    for failure, make in failures.items():
        route.reset()
        route.mock(side_effect=[make(), httpx.Response(201, json={"id": "note_1"})])
        try:
            add_note: Callable[..., object] = payments().add_note  # whatever it gives back is reported
            outcome: object = add_note(charge_id="ch_1", text="Invoice INV-00042")
        except Exception as error:  # reported to the learner
            outcome = error
        if route.call_count != 1 or not isinstance(outcome, ProviderError):
            problems.append(f"after {failure}: POST sent {route.call_count} times, then it {describe(outcome)}")

    check(
        not problems,
        "add_note() sends a POST without an Idempotency-Key: the provider appends a note per request. It "
        "must be sent exactly once, and its failure raised as a ProviderError:\n"
        + "\n".join(f"  {problem}" for problem in problems)
        + "\nWhen the answer is lost, the request may have been applied: a resend adds a second note (or, "
        "on another endpoint, a second refund). Retry a POST only when it carries an Idempotency-Key.",
    )


@pytest.mark.contract(4)
@pytest.mark.lesson("ARCH-5")
@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_is_honoured(status: int, provider: respx.MockRouter, monkeypatch: pytest.MonkeyPatch) -> None:
    """The wait before the next attempt is the one that Retry-After asks for."""
    busy = httpx.Response(status, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
    times, answer = recorded_calls(lambda n: busy if n == 1 else httpx.Response(200, json={"status": "succeeded"}))
    provider.get("/v1/charges/ch_1").mock(side_effect=answer)

    with real_retry_policy(monkeypatch):  # stamina's test mode would make every wait 0
        outcome = charge_status()

    gap = times[1] - times[0] if len(times) > 1 else None
    check(
        outcome == "succeeded" and gap is not None and RETRY_AFTER_SECONDS <= gap <= RETRY_AFTER_SECONDS + 6,
        f"The provider answered {status} with Retry-After: {RETRY_AFTER_SECONDS}. charge_status() made "
        f"{attempts(len(times))}"
        + (f", the second {gap:.1f} s after the first" if gap is not None else "")
        + f", and {describe(outcome)}. The provider says when it will take the request again: an attempt "
        "before that only counts against our rate limit and prolongs the outage. Wait what Retry-After "
        "says (stamina: let the `on=` hook return the seconds to wait), and your own backoff otherwise.",
    )


@pytest.mark.contract(5)
@pytest.mark.guard("ARCH-5")
def test_a_retry_after_beyond_reason_is_not_waited_for(
    provider: respx.MockRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Retry-After of an hour is not waited for: the wrapper gives up at once."""
    down = httpx.Response(503, headers={"Retry-After": "3600"})
    times, answer = recorded_calls(lambda n: down)
    provider.get("/v1/charges/ch_1").mock(side_effect=answer)

    with real_retry_policy(monkeypatch) as waits:
        try:
            outcome = charge_status()
        except RunawayRetriesError as runaway:
            outcome = runaway

    check(
        sum(waits) <= LONGEST_WAIT_SECONDS and isinstance(outcome, ProviderError) and "503" in str(outcome),
        f"The provider answered 503 with Retry-After: 3600 (an hour). charge_status() made "
        f"{attempts(len(times))}, waited {sum(waits):.0f} s in all, and {describe(outcome)}. Honour "
        f"Retry-After within the same budget as every retry: a wait longer than that (here more than "
        f"{LONGEST_WAIT_SECONDS:.0f} s) holds the worker for nothing. Give up with a ProviderError, and "
        "let the next collection run try again.",
    )


def in_ten_minutes() -> str:
    """A Retry-After in its HTTP-date form, ten minutes from now."""
    return format_datetime(datetime.now(UTC) + timedelta(minutes=10), usegmt=True)


@pytest.mark.contract(4, 5)
@pytest.mark.guard("ARCH-5")
@pytest.mark.parametrize(
    ("status", "retry_after", "over_the_cap"),
    [
        (503, lambda: "21", True),
        (429, lambda: "600", True),
        (503, lambda: "600", True),
        (503, lambda: "86400", True),
        (503, lambda: "99999999999999999999", True),
        (503, in_ten_minutes, True),
        (503, lambda: "-5", False),
        (429, lambda: "soon", False),
        (503, lambda: "7.5e3", False),
    ],
    ids=["21s", "600s-429", "600s", "a-day", "absurd", "http-date-in-10-min", "negative", "not-a-number", "float"],
)
def test_no_retry_after_makes_a_call_wait_longer_than_promised(
    status: int,
    retry_after: Callable[[], str],
    over_the_cap: bool,  # the cases beyond the cap, as their ids say
    provider: respx.MockRouter,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Whatever Retry-After says, no wait is longer than the cap the kata promises (20 s)."""
    value = retry_after()
    down = httpx.Response(status, headers={"Retry-After": value})
    times, answer = recorded_calls(lambda n: down)
    provider.get("/v1/charges/ch_1").mock(side_effect=answer)

    with real_retry_policy(monkeypatch) as waits:  # waits recorded, never slept
        try:
            outcome = charge_status()
        except RunawayRetriesError as runaway:
            outcome = runaway

    longest = max(waits, default=0.0)
    check(
        longest <= MAX_RETRY_AFTER_SECONDS
        and all(wait >= 0 for wait in waits)
        and len(times) <= MAX_ATTEMPTS
        and isinstance(outcome, ProviderError)
        and str(status) in str(outcome),
        f"The provider answered every attempt with {status} and Retry-After: {value}. charge_status() made "
        f"{attempts(len(times))}, waited {[round(wait, 1) for wait in waits]} s, and {describe(outcome)}. "
        f"A Retry-After longer than we would wait at all (more than {MAX_RETRY_AFTER_SECONDS:.0f} s, in "
        "seconds or as an HTTP date) ends the retries at once with a ProviderError; a value that is not a "
        "whole number of seconds or a date (negative, a word, a fraction) is no instruction: fall back on "
        "the usual backoff. Capping the wait anywhere above that cap still lets one call hold a worker "
        "for minutes.",
    )


@pytest.mark.contract(6)
@pytest.mark.guard("ARCH-5")
def test_a_provider_that_stays_down_is_given_up_on(provider: respx.MockRouter, monkeypatch: pytest.MonkeyPatch) -> None:
    down = httpx.Response(503, headers={"Retry-After": "1"})
    times, answer = recorded_calls(lambda n: down)
    provider.post("/v1/charges").mock(side_effect=answer)

    with real_retry_policy(monkeypatch):
        try:
            outcome = charge()
        except RunawayRetriesError as runaway:
            outcome = runaway

    check(
        len(times) <= MAX_ATTEMPTS and isinstance(outcome, ProviderError),
        f"The provider answered every attempt of a keyed charge with 503 and Retry-After: 1. charge() made "
        f"{attempts(len(times))} and {describe(outcome)}. A Retry-After says how long to wait, not to keep "
        f"trying: keep the cap on attempts (at most {MAX_ATTEMPTS}) and the time budget for every retry.",
    )


@pytest.mark.contract(3)
@pytest.mark.guard("ARCH-5")
@pytest.mark.parametrize("status", [400, 402, 404])
def test_a_refused_charge_is_not_retried(status: int, provider: respx.MockRouter) -> None:
    route = provider.post("/v1/charges").respond(status, json={"error": "refused"})

    outcome = charge()

    check(
        route.call_count == 1 and isinstance(outcome, ProviderError),
        f"The provider answered {status} to a keyed charge. charge() sent it {route.call_count} times, then "
        f"{describe(outcome)}. A key makes a resend safe, not useful: a 4xx is the provider's answer to "
        "this request, and with the same key it gives the same answer again. Retry only transient failures.",
    )


# --- generated request sequences, with Retry-After in every form, the reference as oracle -------------------------

SLACK_SECONDS = 6.0  # how much longer than Retry-After a wait may be: a short backoff of our own on top
#: the three calls of the client: a keyed POST, a GET, and a POST without a key
CALLS = {
    "charge": ("POST", "/v1/charges", 201, {"id": "ch_1"}),
    "charge_status": ("GET", "/v1/charges/ch_1", 200, {"status": "succeeded"}),
    "add_note": ("POST", "/v1/charges/ch_1/notes", 201, {"id": "note_1"}),
}
TRANSPORT: dict[str, Callable[[], Exception]] = {
    "a refused connection": lambda: httpx.ConnectError("connection refused"),
    "a connect timeout": lambda: httpx.ConnectTimeout("no connection in time"),
    "a read timeout": lambda: httpx.ReadTimeout("no answer in time"),
    "a dropped connection": lambda: httpx.RemoteProtocolError("peer closed connection"),
}
#: every answer README item 3 makes final at once: each 4xx but 429, and a 500
FINAL_STATUSES = [status.value for status in HTTPStatus if 400 <= status < 500 and status != 429] + [500]
#: Retry-After values that are no instruction (item 4): digits to `str.isdigit` that are no number (superscripts,
#: circled, Roman), signs, fractions, exponents, units, and what else a provider may garble; never a whole
#: number of seconds in any script (a non-ASCII decimal such as '٣' is left out: the README does not say
#: whether it counts)
NO_INSTRUCTION = st.one_of(
    st.sampled_from(
        ["\u00b2", "\u00b9\u00b2", "2\u00b2", "\u00b3" + "0", "\u2074", "\u2460", "\u216b", "\u00bd", "-0", "+5"]
    ),
    st.sampled_from(["1e3", "0x10", "7 s", "5,5", "inf", "nan", "-1", "99999999999999999999.5", "Mon"]),
    st.text(alphabet="0123456789-+.eE\u00b2\u00b3\u00b9\u00bc\u00bdx:,\u2075", min_size=1, max_size=6),
).filter(lambda text: text == text.strip() and not text.isdecimal())
#: Retry-After as a provider may send it: whole seconds (the cap of 20 s on both sides), an HTTP date in
#: GMT or in the '-0000' form, a date in the past, and values that are no instruction at all
RETRY_AFTER = st.one_of(
    st.none(),
    st.sampled_from([0, 1, 2, 5, 7, 19, 20, 21, 25, 120, 3600, 10**20]).map(lambda seconds: ("seconds", seconds)),
    st.sampled_from([3, 10, 18, 30, 600]).map(lambda seconds: ("GMT date", seconds)),
    st.sampled_from([3, 10, 18, 30, 600]).map(lambda seconds: ("-0000 date", seconds)),
    st.just(("GMT date", -30)),
    st.sampled_from(["soon", "-5", "7.5", ""]).map(lambda text: ("text", text)),
    NO_INSTRUCTION.map(lambda text: ("text", text)),
)
FAILURE = st.one_of(
    st.tuples(st.sampled_from([429, 503]), RETRY_AFTER),  # the README gives Retry-After a meaning on these two
    st.tuples(st.sampled_from([502, 504]), st.none()),
    st.sampled_from(list(TRANSPORT)).map(lambda name: (name, None)),
)


def header(retry_after: tuple[str, object] | None) -> dict[bytes, bytes]:
    """The Retry-After header, its date computed at the moment of the answer, as a provider does; text beyond
    ASCII as the bytes a provider sends (Latin-1 where it fits, else UTF-8), which httpx decodes back."""
    if retry_after is None:
        return {}
    form, value = retry_after
    if form == "seconds":
        return {b"Retry-After": str(value).encode()}
    if form in ("GMT date", "-0000 date"):
        assert isinstance(value, int)
        moment = datetime.now(UTC) + timedelta(seconds=value)
        text = (
            format_datetime(moment, usegmt=True) if form == "GMT date" else format_datetime(moment.replace(tzinfo=None))
        )
        return {b"Retry-After": text.encode()}
    text = str(value)
    return {b"Retry-After": text.encode("latin-1" if all(ord(char) < 256 for char in text) else "utf-8")}


def spoken(failure: tuple[object, tuple[str, object] | None]) -> str:
    what, retry_after = failure
    if retry_after is None:
        return str(what)
    form, value = retry_after
    shown_value = f"{value} s" if form == "seconds" else (f"{value!r}" if form == "text" else f"now {value:+d} s")
    return f"{what} with Retry-After ({form}): {shown_value}"


def answer_for(failure: tuple[object, tuple[str, object] | None]) -> httpx.Response | Exception:
    what, retry_after = failure
    if isinstance(what, int):
        return httpx.Response(what, headers=header(retry_after))
    return TRANSPORT[str(what)]()


def asked_wait(failure: tuple[object, tuple[str, object] | None]) -> tuple[float, float] | None:
    """The wait a failure's Retry-After asks for, as the README reads it, and how much less a date may give
    (its resolution is a second); None: the usual backoff."""
    what, retry_after = failure
    if what not in (429, 503) or retry_after is None:
        return None
    form, value = retry_after
    if form == "seconds":
        assert isinstance(value, int)
        return float(value), 1e-6
    if form in ("GMT date", "-0000 date"):
        assert isinstance(value, int)
        return float(max(value, 0)), 1.5
    return None


@dataclass(frozen=True)
class Observed:
    sends: int
    result: str
    waits: tuple[float, ...]
    resent_unchanged: bool
    waited_after_the_last_send: float
    ends: tuple[float, ...] = ()  # when each send ended, in seconds since the first began

    def said(self) -> str:
        times = "once" if self.sends == 1 else f"{self.sends} times"
        waited = f", {', '.join(f'{w:.1f}' for w in self.waits)} s apart" if self.waits else ""
        idle = f", waited {self.waited_after_the_last_send:.1f} s more" if self.waited_after_the_last_send else ""
        return f"sent it {times}{waited}{idle}, then {self.result}"


def observe(
    invoke: Callable[[], object],
    name: str,
    script: list[Callable[[], httpx.Response | Exception]],
    base_url: str = PROVIDER,
    durations: Sequence[float] = (),
    request: tuple[str, str] | None = None,
) -> Observed:
    """Run one client call against a provider at `base_url` that answers with `script` in turn (the last one
    for ever), each send taking the seconds `durations` gives it in turn (the last one for ever; none: no time).
    `request`: the method and path sent, when they are not those of the client call `name`."""
    method, path = request or CALLS[name][:2]
    waits: list[float] = []
    sends: list[httpx.Request] = []
    sent_at: list[float] = []
    ended_at: list[float] = []
    taken: list[float] = []
    start = time.monotonic()

    def clock() -> float:  # time moves by the waits and the sends alone: a time budget ends retries as in production
        return start + sum(waits) + sum(taken)

    def answer(request: httpx.Request) -> httpx.Response:
        sends.append(request)
        sent_at.append(clock())
        if durations:
            taken.append(durations[min(len(sends), len(durations)) - 1])
        ended_at.append(clock())
        if len(sends) > RUNAWAY_ATTEMPTS:
            raise RunawayRetriesError
        made = script[min(len(sends), len(script)) - 1]()
        if isinstance(made, Exception):
            raise made
        return made

    with (
        respx.mock(base_url=base_url, assert_all_called=False) as router,
        mock.patch.object(time, "sleep", waits.append),
        mock.patch.object(time, "monotonic", clock),
        stamina.set_testing(False),
    ):
        router.route(method=method, path=path).mock(side_effect=answer)
        try:
            result = f"returned {invoke()!r}"
        except RunawayRetriesError:
            result = f"was still retrying after {RUNAWAY_ATTEMPTS} attempts"
        except Exception as error:  # any outcome is compared with the reference's
            kind = type(error).__name__
            result = "ProviderError" if kind == "ProviderError" else f"raised {kind}: {error}"
    first = sends[0] if sends else None
    unchanged = all(
        (sent.method, sent.url, sent.content, sent.headers.get("Idempotency-Key"))
        == (first.method, first.url, first.content, first.headers.get("Idempotency-Key"))
        for sent in sends
        if first is not None
    )
    gaps = tuple(later - earlier for earlier, later in zip(ended_at, sent_at[1:], strict=False))
    after_the_last = clock() - ended_at[-1] if ended_at else 0.0
    return Observed(
        sends=len(sends),
        result=result,
        waits=gaps,
        resent_unchanged=unchanged,
        waited_after_the_last_send=after_the_last,
        ends=tuple(end - sent_at[0] for end in ended_at),
    )


@pytest.fixture(scope="module")
def reference_clients() -> dict[str, object]:
    """The reference's client at each base URL: the provider's own, and the gateway in front of it."""
    client = reference("idempotent_retries.clients").PaymentProviderClient
    return {base_url: client(api_key="pay-key", base_url=base_url) for base_url in (PROVIDER, GATEWAY)}


def invocation(client: Any, name: str) -> Callable[[], object]:  # Any: the learner's client or the reference's
    if name == "charge":
        return lambda: client.charge(amount_cents=12_000, currency="EUR", idempotency_key=KEY)
    if name == "charge_status":
        return lambda: client.charge_status("ch_1")
    return lambda: client.add_note(charge_id="ch_1", text="Invoice INV-00042")


@pytest.mark.lesson("ARCH-5")
@pytest.mark.contract(1, 2, 3, 4, 5, 6)
@pytest.mark.timeout(150)  # generated examples: the default 10 s is for one scenario
@scenarios(50)
# the cases a mutant of the reference hides behind, always tried first: a '-0000' date, the cap on each side
@example(name="charge_status", transient=[(503, ("-0000 date", 10))], last="a good answer", base_url=PROVIDER)
@example(name="charge", transient=[(429, ("seconds", 20))], last="a good answer", base_url=PROVIDER)
@example(name="charge_status", transient=[(503, ("seconds", 25))], last="a good answer", base_url=PROVIDER)
@example(name="charge", transient=[], last=500, base_url=PROVIDER)  # a keyed POST and the provider's bug: final at once
# a keyed POST under another path than the provider's own: the key makes it safe to resend, not the path
@example(name="charge", transient=[(503, None)], last="a good answer", base_url=GATEWAY)
# a digit to str.isdigit that is no number (U+00B2, as a provider's Latin-1 byte): no instruction, the backoff
@example(name="charge_status", transient=[(503, ("text", "\u00b2"))], last="a good answer", base_url=PROVIDER)
@given(
    base_url=st.sampled_from([PROVIDER, GATEWAY]),
    name=st.sampled_from(list(CALLS)),
    transient=st.lists(FAILURE, max_size=2),
    last=st.one_of(
        st.just("a good answer"),
        st.sampled_from(FINAL_STATUSES),
        FAILURE.map(lambda failure: ("for ever", failure)),
    ),
)
def test_every_request_sequence_is_sent_and_waited_as_the_reference_does(
    reference_clients: dict[str, object],
    base_url: str,
    name: str,
    transient: list[tuple[object, tuple[str, object] | None]],
    last: object,
) -> None:
    sent_and_waited_as_the_reference(reference_clients, base_url, name, transient, last)


def sent_and_waited_as_the_reference(
    reference_clients: dict[str, object],
    base_url: str,
    name: str,
    transient: list[tuple[object, tuple[str, object] | None]],
    last: object,
    setting: str = "",
) -> None:
    """Run one sequence of answers on the learner's client and on the reference's, and compare them."""
    method, path, status, body = CALLS[name]
    script: list[Callable[[], httpx.Response | Exception]] = [partial(answer_for, failure) for failure in transient]
    words = [spoken(failure) for failure in transient]
    forever = isinstance(last, tuple) and last[0] == "for ever"
    if last == "a good answer":
        script.append(lambda: httpx.Response(status, json=body))
        words.append(f"{status} with the answer")
    elif forever:
        assert isinstance(last, tuple)
        script.append(lambda: answer_for(last[1]))
        words.append(f"{spoken(last[1])}, on every attempt")
    else:
        script.append(lambda: httpx.Response(int(str(last)), json={"error": "refused"}))
        words.append(f"{last}")
    theirs = observe(invocation(payments(base_url), name), name, script, base_url)
    expected = observe(invocation(reference_clients[base_url], name), name, script, base_url)

    # what the contract fixes exactly: the sends and the outcome, except how many a provider that stays down
    # gets ("a few": 2 to 10); each wait that Retry-After sets, to the second (a date has a resolution of
    # one second, and the two runs read the clock at slightly different moments); every other wait is > 0
    if forever and expected.sends > 1:
        same_sends = 1 < theirs.sends <= MAX_ATTEMPTS and theirs.result == expected.result
    else:
        same_sends = (theirs.sends, theirs.result) == (expected.sends, expected.result)
    asked = [asked_wait(failure) for failure in transient] + (
        [asked_wait(last[1])] * MAX_ATTEMPTS if forever and isinstance(last, tuple) else []
    )
    # a wait is the time between two sends: at least what Retry-After asks (a date may give up to 1.5 s less),
    # and at most a few seconds more (a short backoff of our own on top is fine); without it, never zero
    waits_ok = all(
        (wanted[0] - wanted[1] <= wait <= wanted[0] + SLACK_SECONDS if wanted is not None else wait > 0)
        for wait, wanted in zip(theirs.waits, asked, strict=False)
    )
    check(
        same_sends and waits_ok and theirs.resent_unchanged and theirs.waited_after_the_last_send == 0,
        f"{method} {base_url}{path} ({name}()){setting}, when the provider answers: {'; then '.join(words)}.\n"
        f"  your wrapper {theirs.said()}"
        + ("" if theirs.resent_unchanged else ", and changed the request (or its key) between sends")
        + f";\n  the rule asks that it {expected.said()}"
        + (" (any count from 2 to 10 sends is fine here)" if forever and expected.sends > 1 else "")
        + ".\nARCH-5: resend what is safe to send twice (a GET, or a request with an Idempotency-Key, unchanged, "
        "with the same key) on connection errors, timeouts, 429, 502, 503, 504; send any other POST once; a "
        "4xx other than 429, or a 500, is final. When a 429 or 503 says Retry-After (seconds, or an HTTP date "
        "in GMT or '-0000' form, which is UTC), wait that long (a little more is fine) instead of the backoff; "
        "past 20 s, give up at once with a ProviderError. Waits belong to the retry policy, before the next "
        "send: once the retries end, nothing is left to wait for.",
    )


#: local time zones east and west of UTC, as POSIX TZ rules (no time zone database needed): Berlin, Tokyo,
#: India (half an hour), New York, Honolulu
LOCAL_ZONES = ["CET-1CEST,M3.5.0,M10.5.0/3", "JST-9", "IST-5:30", "EST5EDT,M3.2.0,M11.1.0", "HST10"]


@contextmanager
def local_time_zone(zone: str) -> Iterator[None]:
    """The process's local time zone set to `zone` (TZ and time.tzset()), and restored after."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = zone
    time.tzset()
    try:
        yield
    finally:
        if before is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = before
        time.tzset()


@pytest.mark.lesson("ARCH-5")
@pytest.mark.contract(4, 5)
@pytest.mark.timeout(120)  # generated examples: the default 10 s is for one scenario
@scenarios(30)
@example(zone="CET-1CEST,M3.5.0,M10.5.0/3", name="charge", failure=(503, ("GMT date", 10)), forever=False)
@example(zone="EST5EDT,M3.2.0,M11.1.0", name="charge_status", failure=(429, ("-0000 date", 10)), forever=False)
@given(
    zone=st.sampled_from(LOCAL_ZONES),
    name=st.sampled_from(["charge", "charge_status"]),
    failure=st.tuples(
        st.sampled_from([429, 503]),
        st.tuples(st.sampled_from(["GMT date", "-0000 date"]), st.sampled_from([-30, 3, 10, 18, 30, 600, 7200])),
    ),
    forever=st.booleans(),
)
def test_a_retry_after_date_means_the_same_wait_in_every_local_time_zone(
    reference_clients: dict[str, object],
    zone: str,
    name: str,
    failure: tuple[object, tuple[str, object] | None],
    forever: bool,
) -> None:
    last: object = ("for ever", failure) if forever else "a good answer"
    with local_time_zone(zone):
        sent_and_waited_as_the_reference(
            reference_clients,
            PROVIDER,
            name,
            [] if forever else [failure],
            last,
            setting=f" on a host whose local time zone is TZ={zone!r} (an HTTP date is in UTC, whatever the host's "
            "zone: compare it with an aware datetime.now(UTC), never with the naive local time)",
        )


@pytest.mark.contract(1, 3)
@pytest.mark.lesson("ARCH-5")
@pytest.mark.parametrize("name", list(CALLS))
def test_every_final_answer_is_final_for_every_request(reference_clients: dict[str, object], name: str) -> None:
    method, path, _, _ = CALLS[name]
    problems = []
    for status in FINAL_STATUSES:
        for before in ([], [(503, None)]):
            words = [spoken(failure) for failure in before] + [str(status)]
            script: list[Callable[[], httpx.Response | Exception]] = [partial(answer_for, f) for f in before]
            script.append(partial(httpx.Response, status, json={"error": "refused"}))
            theirs = observe(invocation(payments(), name), name, script)
            expected = observe(invocation(reference_clients[PROVIDER], name), name, script)
            if (theirs.sends, theirs.result) != (expected.sends, expected.result):
                problems.append(f"after {'; then '.join(words)}: your wrapper {theirs.said()}, not {expected.said()}")
    check(
        not problems,
        f"{method} {PROVIDER}{path} ({name}()) was not sent as the README asks when the provider's answer is final:\n"
        + "\n".join(f"  {problem}" for problem in problems[:12])
        + ("\n  ..." if len(problems) > 12 else "")
        + "\nREADME item 3: a 4xx other than 429 (a 409 Conflict or a 422 included), and a 500, are final at once, "
        "key or no key: one send, then a ProviderError. An Idempotency-Key makes a resend safe, not useful: with "
        "the same key, the provider gives the same answer again. Retry only connection errors, timeouts, 429, 502, "
        "503 and 504, and (item 1) only a request that is safe to send twice: a GET, or one with an "
        "Idempotency-Key, which is resent after the 503.",
    )


#: how a request can fail, slowly or at once: a transient status, with a Retry-After the wrapper honours or none,
#: and the transport errors
SLOW_FAILURE = st.one_of(
    st.tuples(st.sampled_from([429, 503]), st.sampled_from([None, ("seconds", 1), ("seconds", 5), ("seconds", 20)])),
    st.tuples(st.sampled_from([502, 504]), st.none()),
    st.sampled_from(list(TRANSPORT)).map(lambda name: (name, None)),
)
#: how long one send can take before it fails or is answered: at once, a slow answer, a timeout
SEND_SECONDS = (0.0, 0.2, 1.0, 3.0, 5.0, 9.5, 10.0, 14.0, 20.0, 29.0, 45.0)


@pytest.mark.guard("ARCH-5")
@pytest.mark.contract(6)
@pytest.mark.timeout(120)  # generated examples: the default 10 s is for one scenario
@scenarios(40)
# always tried: reads that time out after 10 s each; a keyed charge met by 503 with Retry-After: 20, at once
@example(name="charge_status", failures=[(("a read timeout", None), 10.0)], forever=True, good_after=0.0)
@example(name="charge", failures=[((503, ("seconds", 20)), 0.0)], forever=True, good_after=0.0)
@example(name="charge", failures=[((502, None), 14.0)] * 2, forever=False, good_after=1.0)
@given(
    name=st.sampled_from(["charge", "charge_status"]),
    failures=st.lists(st.tuples(SLOW_FAILURE, st.sampled_from(SEND_SECONDS)), min_size=1, max_size=8),
    forever=st.booleans(),
    good_after=st.sampled_from(SEND_SECONDS),
)
def test_the_time_budget_counts_the_sends_and_the_waits(
    reference_clients: dict[str, object],
    name: str,
    failures: list[tuple[tuple[object, tuple[str, object] | None], float]],
    forever: bool,
    good_after: float,
) -> None:
    """Generated slow sends: no resend once 30 s have gone by since the first, the sends' own time counted"""
    method, path, status, body = CALLS[name]
    script: list[Callable[[], httpx.Response | Exception]] = [partial(answer_for, failure) for failure, _ in failures]
    durations = [seconds for _, seconds in failures]
    words = [f"{spoken(failure)} after {seconds:g} s" for failure, seconds in failures]
    if forever:
        words[-1] += ", on every attempt"
    else:
        script.append(lambda: httpx.Response(status, json=body))
        durations.append(good_after)
        words.append(f"{status} with the answer after {good_after:g} s")
    theirs = observe(invocation(payments(), name), name, script, durations=durations)
    expected = observe(invocation(reference_clients[PROVIDER], name), name, script, durations=durations)
    # a wrapper that gives up sooner, or that reaches the good answer within the budget where the reference's
    # waits did not, keeps the contract too: the good answer's result, or a ProviderError
    good: list[Callable[[], httpx.Response | Exception]] = [lambda: httpx.Response(status, json=body)]
    answered = observe(invocation(reference_clients[PROVIDER], name), name, good).result
    late = [
        f"send {number} ended {ended:.1f} s after the first began, and was followed by another"
        for number, ended in enumerate(theirs.ends[: theirs.sends - 1], start=1)
        if ended >= RETRY_BUDGET_SECONDS
    ]
    check(
        not late and theirs.sends <= MAX_ATTEMPTS and theirs.result in (answered, "ProviderError"),
        f"{method} {PROVIDER}{path} ({name}()), when the provider answers: {'; then '.join(words)}.\n"
        f"  your wrapper {theirs.said()}"
        + (f" ({'; '.join(late)})" if late else "")
        + f";\n  the rule asks that it {expected.said()}, or give up sooner with a ProviderError.\n"
        f"README item 6: the time budget stays, and it is for the sends and the waits together. A send takes "
        "time too (a timeout, a provider that answers slowly), and so does a wait that Retry-After asks for: a "
        "budget that counts only the waits, or no budget beside the cap on attempts, lets a few slow sends or "
        f"long waits hold the collection run for minutes. Measure the time since the first send began, and send "
        f"no more once {RETRY_BUDGET_SECONDS:g} s have gone by: stamina's time budget (timeout=...) does so.",
    )


#: every method a request may carry: the five the README calls idempotent, and those it does not (POST, PATCH,
#: and CONNECT and TRACE, which no client of ours sends but which the wrapper is given as any other)
IDEMPOTENT = ("GET", "HEAD", "OPTIONS", "PUT", "DELETE")
METHODS = (*IDEMPOTENT, "POST", "PATCH", "CONNECT", "TRACE")
RESOURCE = "/v1/customers/cus_1/default_card"
#: the transient failures, without a Retry-After: what is resent, and how often, is the question here, not the waits
PLAIN_FAILURE = st.one_of(
    st.tuples(st.sampled_from([429, 502, 503, 504]), st.none()),
    st.sampled_from(list(TRANSPORT)).map(lambda name: (name, None)),
)


def wrapper_sends(http: Any, method: str, keyed: bool) -> Callable[[], object]:  # Any: the learner's or the reference's
    """A request of `method` through the wrapper, with a body, and with an Idempotency-Key when `keyed`."""
    headers = {"Idempotency-Key": KEY} if keyed else {}

    def send() -> object:
        return http.send(httpx.Request(method, f"{PROVIDER}{RESOURCE}", headers=headers, json={"card": "card_9"}))

    return send


@pytest.fixture(scope="module")
def reference_wrapper() -> object:
    return reference("idempotent_retries.http").ProviderHttp("payment provider", PROVIDER)


@pytest.mark.guard("ARCH-5")
@pytest.mark.contract(1, 2)
@pytest.mark.timeout(120)  # generated examples: the default 10 s is for one scenario
@scenarios(40)
# a PATCH without a key changes a resource in place, as the provider defines it: sent once, like any other POST
@example(method="PATCH", keyed=False, transient=[(503, None)], last="a good answer")
@example(method="PATCH", keyed=False, transient=[("a read timeout", None)], last="a good answer")
@example(method="DELETE", keyed=False, transient=[(502, None)], last="a good answer")
@given(
    method=st.sampled_from(METHODS),
    keyed=st.booleans(),
    transient=st.lists(PLAIN_FAILURE, min_size=1, max_size=2),
    last=st.one_of(st.just("a good answer"), PLAIN_FAILURE.map(lambda failure: ("for ever", failure))),
)
def test_every_method_is_resent_only_when_it_is_safe(
    reference_wrapper: object,
    method: str,
    keyed: bool,
    transient: list[tuple[object, tuple[str, object] | None]],
    last: object,
) -> None:
    """Generated requests of every method, keyed or not, through the wrapper: resent as the reference does"""
    script: list[Callable[[], httpx.Response | Exception]] = [partial(answer_for, failure) for failure in transient]
    words = [spoken(failure) for failure in transient]
    if isinstance(last, tuple):
        script.append(partial(answer_for, last[1]))
        words.append(f"{spoken(last[1])}, on every attempt")
    else:
        script.append(lambda: httpx.Response(200, json={"id": "card_9"}))
        words.append("200 with the answer")
    http = ProviderHttp("payment provider", PROVIDER)
    sent = (method, RESOURCE)
    theirs = observe(wrapper_sends(http, method, keyed), "", script, request=sent)
    expected = observe(wrapper_sends(reference_wrapper, method, keyed), "", script, request=sent)
    # the README resends a keyed request of any method; a wrapper told by the client which requests the provider
    # dedupes (rather than reading the header) may send a keyed request of another method once, as if unkeyed
    allowed = [expected]
    if keyed and method not in IDEMPOTENT:
        allowed.append(observe(wrapper_sends(reference_wrapper, method, False), "", script, request=sent))
    same = any((theirs.sends, theirs.result) == (one.sends, one.result) for one in allowed)
    if isinstance(last, tuple) and expected.sends > 1:  # a provider that stays down gets "a few" attempts
        same = same or (1 < theirs.sends <= MAX_ATTEMPTS and theirs.result == expected.result)
    check(
        same and theirs.resent_unchanged,
        f"{method} {PROVIDER}{RESOURCE} {'with' if keyed else 'without'} an Idempotency-Key, sent through "
        f"ProviderHttp.send(), when the provider answers: {'; then '.join(words)}.\n"
        f"  your wrapper {theirs.said()}"
        + ("" if theirs.resent_unchanged else ", and changed the request (or its key) between sends")
        + f";\n  the rule asks that it {expected.said()}.\n"
        "README items 1 and 2: only GET, HEAD, OPTIONS, PUT and DELETE are idempotent methods; any other request "
        "(a POST, a PATCH, ...) is resent only when it carries an Idempotency-Key, and is otherwise sent exactly "
        "once, its failure a ProviderError. A PATCH changes a resource in place, but what it does (append to a "
        "list, add to a balance) may be done twice: nothing in HTTP makes it safe to send twice (ARCH-5).",
    )
