"""Grader of `utc_datetimes`: moments are stored in UTC, "today" is the user's day, the API converts."""

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, tzinfo
from types import ModuleType
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client, override_settings
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from dojo.grading import check
from dojo.scenarios import reference, rolled_back, scenarios
from utc_datetimes.models import Invoice, Organization
from utc_datetimes.services import invoices_due_today, issue_invoice

from .factories import InvoiceFactory, OrganizationFactory

pytestmark = [
    pytest.mark.django_db,
    # the starter hands Django naive datetimes: the checks below say what that costs, with figures
    pytest.mark.filterwarnings("ignore:DateTimeField .* received a naive datetime:RuntimeWarning"),
    # a deprecated but working call of the learner's (say `datetime.utcnow()`) is reported in the warnings
    # summary, not turned into a failure by the project's `filterwarnings = error`: what it computes is graded
    pytest.mark.filterwarnings("default::DeprecationWarning"),
]

# The new workers run with Django's TIME_ZONE = "America/New_York". Django sets the process's TZ from
# TIME_ZONE (and calls tzset()), so datetime.now() and date.today() read New York's wall clock there,
# and Django reads every naive datetime as New York time. (The machine's own zone does not matter.)
SERVER_TIME_ZONE = "America/New_York"
SERVER_CLOCK = ZoneInfo(SERVER_TIME_ZONE)
BERLIN = ZoneInfo("Europe/Berlin")
LOS_ANGELES = ZoneInfo("America/Los_Angeles")
AUCKLAND = ZoneInfo("Pacific/Auckland")
PAYMENT_TERMS = timedelta(days=30)


@contextmanager
def now_is(moment: datetime, server_time_zone: str = "UTC") -> Iterator[None]:
    """The current moment is `moment`, in a Django process whose TIME_ZONE is `server_time_zone`."""
    # override_settings sets the process's TZ as Django's start-up does; time-machine keeps it when its
    # destination carries the same zone (an aware UTC destination would set TZ to UTC)
    zone = ZoneInfo(server_time_zone)
    with override_settings(TIME_ZONE=server_time_zone), time_machine.travel(moment.astimezone(zone), tick=False):
        yield


def shown(moment: datetime, zone: tzinfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def expected_due_today(
    invoices: Iterable[Invoice], organization: Organization, zone: ZoneInfo, now: datetime
) -> list[str]:
    """By definition: open invoices whose due time, read on the user's clock, has today's date there."""
    today = now.astimezone(zone).date()
    return [
        invoice.number
        for invoice in sorted(invoices, key=lambda invoice: (invoice.due_at, invoice.number))
        if invoice.organization_id == organization.pk
        and invoice.status == Invoice.Status.OPEN
        and invoice.due_at.astimezone(zone).date() == today
    ]


def differences(expected: list[str], got: list[str], zone: ZoneInfo) -> str:
    """The invoices listed wrongly, with their due times on the user's clock."""
    due = {invoice.number: invoice.due_at for invoice in Invoice.objects.filter(number__in=[*expected, *got])}
    missing = [f"{number} (due {shown(due[number], zone)})" for number in expected if number not in got]
    extra = [f"{number} (due {shown(due[number], zone)})" for number in got if number not in expected]
    parts = []
    if missing:
        parts.append(f"missing {', '.join(missing[:3])}{' …' if len(missing) > 3 else ''}")
    if extra:
        parts.append(f"wrongly listed {', '.join(extra[:3])}{' …' if len(extra) > 3 else ''}")
    return "; ".join(parts) or "the same invoices, in another order"


# --- what the code does: these pass on the starter and must keep passing ---------------------------


@pytest.mark.contract(1)
def test_an_issued_invoice_falls_due_after_the_payment_terms() -> None:
    organization = OrganizationFactory.create()
    moment = datetime(2026, 3, 10, 14, 0, tzinfo=UTC)

    with now_is(moment):
        invoice = issue_invoice(organization.pk, number="INV-7001", customer_name="Acme", amount_due_cents=12_000)

    stored = Invoice.objects.get(pk=invoice.pk)
    assert (stored.number, stored.customer_name, stored.amount_due_cents, stored.status) == (
        "INV-7001",
        "Acme",
        12_000,
        Invoice.Status.OPEN,
    )
    assert (stored.issued_at, stored.due_at) == (moment, moment + PAYMENT_TERMS)


@pytest.mark.contract(3)
def test_due_today_lists_the_organizations_open_invoices_in_due_order() -> None:
    """Due today lists the organization's open invoices in due order."""
    organization = OrganizationFactory.create()
    day = datetime(2026, 3, 10, tzinfo=UTC)
    invoices = [
        InvoiceFactory.create(organization=organization, number="INV-0003", due_at=day + timedelta(hours=9)),
        InvoiceFactory.create(organization=organization, number="INV-0001", due_at=day + timedelta(hours=17)),
        InvoiceFactory.create(organization=organization, number="INV-0002", due_at=day + timedelta(hours=9)),
        InvoiceFactory.create(organization=organization, due_at=day + timedelta(hours=10), status=Invoice.Status.PAID),
        InvoiceFactory.create(organization=organization, due_at=day - timedelta(minutes=30)),  # yesterday
        InvoiceFactory.create(organization=organization, due_at=day + timedelta(days=1, minutes=30)),  # tomorrow
        InvoiceFactory.create(due_at=day + timedelta(hours=12)),  # another organization's
    ]

    with now_is(day + timedelta(hours=8)):
        due = invoices_due_today(organization.pk, ZoneInfo("UTC"))

    assert [row.number for row in due] == ["INV-0002", "INV-0003", "INV-0001"]
    assert [row.number for row in due] == expected_due_today(invoices, organization, ZoneInfo("UTC"), day)
    assert [(row.customer_name, row.amount_due_cents) for row in due] == [
        (invoice.customer_name, invoice.amount_due_cents)
        for number in ("INV-0002", "INV-0003", "INV-0001")
        for invoice in invoices
        if invoice.number == number
    ]


@pytest.mark.contract(5)
@pytest.mark.urls("utc_datetimes.api")
def test_the_api_shows_due_times_on_the_users_clock(client: Client) -> None:
    """The API shows due times on the user's clock."""
    organization = OrganizationFactory.create()
    invoice = InvoiceFactory.create(organization=organization, due_at=datetime(2026, 3, 10, 5, 0, tzinfo=UTC))

    with now_is(datetime(2026, 3, 10, 1, 0, tzinfo=UTC)):
        response = client.get(
            f"/api/v1/organizations/{organization.pk}/invoices/due-today", {"time_zone": "Pacific/Auckland"}
        )

    assert response.status_code == 200, response.content
    assert response.json() == {
        "items": [
            {
                "number": invoice.number,
                "customer_name": invoice.customer_name,
                "amount_due_cents": invoice.amount_due_cents,
                "due_at": "2026-03-10T18:00:00+13:00",
            }
        ],
        "count": 1,
    }


@pytest.mark.contract(6)
@pytest.mark.urls("utc_datetimes.api")
def test_the_api_refuses_an_unknown_time_zone(client: Client) -> None:
    organization = OrganizationFactory.create()

    response = client.get(f"/api/v1/organizations/{organization.pk}/invoices/due-today", {"time_zone": "Mars/Base"})

    assert response.status_code == 422


# --- the lesson ---------------------------------------------------------------------------------------


@pytest.mark.contract(1)
@pytest.mark.lesson("DJ-5")
def test_issued_invoices_store_the_moment_in_utc() -> None:
    organization = OrganizationFactory.create()
    # an ordinary afternoon, and one whose 30 days of payment terms span the night New York's clocks
    # go back (1 November 2026): 30 days on New York's wall clock are then 30 days and an hour
    moments = [datetime(2026, 3, 10, 14, 0, tzinfo=UTC), datetime(2026, 10, 20, 14, 0, tzinfo=UTC)]

    wrong = []
    for number, moment in enumerate(moments, start=7002):
        with now_is(moment, server_time_zone=SERVER_TIME_ZONE):
            invoice = issue_invoice(organization.pk, number=f"INV-{number}", customer_name="Acme", amount_due_cents=1)
        naive = [name for name in ("issued_at", "due_at") if timezone.is_naive(getattr(invoice, name))]
        stored = Invoice.objects.get(pk=invoice.pk)
        due_off = (stored.due_at - (moment + PAYMENT_TERMS)) / timedelta(hours=1)
        if naive or stored.issued_at != moment or due_off:
            wrong.append(
                f"- at {shown(moment, UTC)} UTC ({shown(moment, SERVER_CLOCK)} in New York) it stored issued_at = "
                f"{shown(stored.issued_at, UTC)} UTC and due_at = {shown(stored.due_at, UTC)} UTC"
                + (f", {abs(due_off):g} hour(s) {'early' if due_off < 0 else 'late'}" if due_off else "")
                + (f", and gave Django naive datetimes ({', '.join(naive)})" if naive else "")
            )
    check(
        not wrong,
        "issue_invoice() ran in a worker whose Django TIME_ZONE is America/New_York:\n"
        + "\n".join(wrong)
        + "\nA naive datetime has no time zone. Django sets the process's zone from TIME_ZONE, so datetime.now() "
        "there is New York's wall clock, and Django reads a naive value back as New York time: arithmetic on "
        "it is wall-clock arithmetic (30 days that span the night the clocks go back last an hour more), "
        "and a naive value from anywhere else (an import, datetime.utcnow()) is read as New York time, "
        "hours off. Store moments as aware UTC datetimes: "
        "`django.utils.timezone.now()` is the current moment in UTC whatever TIME_ZONE says.",
    )


@pytest.mark.contract(2)
@pytest.mark.lesson("DJ-5")
def test_due_today_follows_the_users_time_zone() -> None:
    """Due today follows the user's time zone."""
    organization = OrganizationFactory.create()
    first = datetime(2026, 3, 8, 0, 30, tzinfo=UTC)
    invoices = [
        InvoiceFactory.create(organization=organization, due_at=first + timedelta(hours=2 * n)) for n in range(60)
    ]
    # for each user, a moment at which their date is neither the UTC date nor the server's
    users = {
        BERLIN: datetime(2026, 3, 10, 23, 30, tzinfo=UTC),
        LOS_ANGELES: datetime(2026, 3, 11, 5, 0, tzinfo=UTC),
        AUCKLAND: datetime(2026, 3, 10, 12, 0, tzinfo=UTC),
    }

    wrong = []
    for zone, now in users.items():
        with now_is(now, server_time_zone=SERVER_TIME_ZONE):
            got = [row.number for row in invoices_due_today(organization.pk, zone)]
        expected = expected_due_today(invoices, organization, zone, now)
        if got != expected:
            wrong.append(
                f"- a user in {zone.key}, where it is {shown(now, zone)} ({shown(now, UTC)} UTC, "
                f"{shown(now, SERVER_CLOCK)} in the server's TIME_ZONE): {differences(expected, got, zone)}"
            )

    check(
        not wrong,
        "“Due today” must mean the user's today: the invoices whose due time falls on the user's current "
        "date, read on the user's clock. It did not:\n"
        + "\n".join(wrong)
        + "\nNeither the date of the server's TIME_ZONE nor the UTC date is the user's: take today's date in "
        "the user's time zone (`timezone.localdate(timezone=zone)`), and bound the day with aware datetimes at the "
        "user's midnights (`datetime.combine(day, time.min, tzinfo=zone)`).",
    )


@pytest.mark.contract(2)
@pytest.mark.lesson("DJ-5")
def test_due_today_covers_the_users_whole_day_when_the_clocks_change() -> None:
    """Due today covers the user's whole day when the clocks change."""
    organization = OrganizationFactory.create()
    # 29 March 2026 in Berlin has 23 hours (clocks go forward); 1 November 2026 in Los Angeles has 25
    days = {
        BERLIN: (datetime(2026, 3, 29, 12, 0, tzinfo=BERLIN), "clocks go forward: a day of 23 hours"),
        LOS_ANGELES: (datetime(2026, 11, 1, 11, 0, tzinfo=LOS_ANGELES), "clocks go back: a day of 25 hours"),
    }
    invoices: dict[ZoneInfo, list[Invoice]] = {}
    for zone, (noon, _change) in days.items():
        midnight = noon.replace(hour=0)
        next_midnight = datetime.combine(midnight.date() + timedelta(days=1), midnight.time(), tzinfo=zone)
        local_due_times = [
            midnight - timedelta(microseconds=1),  # the last instant of the day before
            midnight,  # the first instant of the day: listed
            midnight + timedelta(minutes=30),
            midnight.replace(hour=1, minute=30, fold=1),
            noon,
            midnight.replace(hour=23, minute=30),
            next_midnight - timedelta(microseconds=1),  # the last instant of the day: listed
            next_midnight,  # exactly the next midnight: tomorrow's
            next_midnight + timedelta(minutes=30),
        ]
        invoices[zone] = [InvoiceFactory.create(organization=organization, due_at=due) for due in local_due_times]

    wrong = []
    for zone, (noon, change) in days.items():
        with now_is(noon, server_time_zone=SERVER_TIME_ZONE):
            got = [row.number for row in invoices_due_today(organization.pk, zone)]
        expected = expected_due_today(invoices[zone], organization, zone, noon)
        if got != expected:
            wrong.append(f"- {noon:%d %B %Y} in {zone.key} ({change}): {differences(expected, got, zone)}")

    check(
        not wrong,
        "On the day the clocks change, the user's day is not 24 hours long, and the list went wrong:\n"
        + "\n".join(wrong)
        + "\nBound the day by the user's two midnights, each built in the user's time zone "
        "(`datetime.combine(day, time.min, tzinfo=zone)` and the same for the next day); adding 24 hours "
        "to the start, in UTC, misses or adds an hour on these days.",
    )


#: zones whose clocks change at or next to their midnight (the hour after midnight comes twice in Havana
#: and the Azores in autumn; midnight never comes in Santiago, Beirut or Cairo in spring), and two whose
#: clocks change in the night
CLOCK_CHANGE_ZONES = [
    "America/Havana",
    "Atlantic/Azores",
    "America/Santiago",
    "Asia/Beirut",
    "Africa/Cairo",
    "America/Nuuk",
    "Europe/Berlin",
    "America/Los_Angeles",
]
#: moments around a clock change: an instant either side, and inside the hour that comes twice or never
AROUND_A_CHANGE = [
    timedelta(microseconds=-1),
    timedelta(0),
    timedelta(microseconds=1),
    timedelta(minutes=30),
    timedelta(minutes=59, seconds=59),
    timedelta(minutes=-30),
    timedelta(minutes=90),
]


def clock_changes(zone: ZoneInfo, year: int = 2026) -> list[datetime]:
    """The instants of `year` at which `zone`'s offset from UTC changes (day by day, then to the minute)."""
    changes = []
    day = datetime(year, 1, 1, tzinfo=UTC)
    while day.year == year:
        offset = day.astimezone(zone).utcoffset()
        if (day + timedelta(days=1)).astimezone(zone).utcoffset() != offset:
            moment = day
            for step in (timedelta(hours=1), timedelta(minutes=1)):
                while (moment + step).astimezone(zone).utcoffset() == offset:
                    moment += step
            changes.append(moment + timedelta(minutes=1))
        day += timedelta(days=1)
    return changes


@pytest.mark.contract(2)
@pytest.mark.lesson("DJ-5")
@pytest.mark.timeout(60)  # 112 moments, each with its own rows: the default 10 s is for one scenario
def test_due_today_starts_at_the_users_midnight_around_every_clock_change(reference_services: ModuleType) -> None:
    """Around every clock change of 2026, in zones where it falls at midnight too, today is the reference's"""
    organization = OrganizationFactory.create()
    wrong = []
    for key in CLOCK_CHANGE_ZONES:
        zone = ZoneInfo(key)
        for change in clock_changes(zone):
            for offset in AROUND_A_CHANGE:
                now = change + offset
                today = now.astimezone(zone).date()
                with rolled_back():
                    midnights = [
                        datetime.combine(today + timedelta(days=days), datetime.min.time(), tzinfo=zone)
                        for days in (0, 1)
                    ]
                    due_times = [
                        midnight + edge for midnight in midnights for edge in EDGES if edge != timedelta(hours=12)
                    ] + [change - timedelta(microseconds=1), change]
                    for due in due_times:
                        InvoiceFactory.create(organization=organization, due_at=due)
                    with now_is(now, server_time_zone=SERVER_TIME_ZONE):
                        theirs = [(row.number, row.due_at) for row in invoices_due_today(organization.pk, zone)]
                        expected = [
                            (row.number, row.due_at)
                            for row in reference_services.invoices_due_today(organization.pk, zone)
                        ]
                if theirs != expected:
                    wrong.append(
                        f"- at {now.astimezone(zone).isoformat()} in {key} (the clocks change at "
                        f"{change.astimezone(zone).isoformat()}): listed due at "
                        f"{[moment.astimezone(zone).isoformat() for _number, moment in theirs]}, where "
                        f"{[moment.astimezone(zone).isoformat() for _number, moment in expected]} was due"
                    )
    check(
        not wrong,
        f"Around a clock change, the user's today went wrong ({len(wrong)} moments):\n"
        + "\n".join(wrong[:6])
        + "\nToday runs from the first instant of the user's midnight to the last before the next, also when "
        "the hour after midnight comes twice (Havana, the Azores) or midnight never comes (Santiago, Beirut). "
        "Build both midnights from the date (`datetime.combine(today, time.min, tzinfo=zone)`): "
        "`now.replace(hour=0, ...)` keeps the fold of a repeated hour, and lands an hour late.",
    )


#: time zone keys that name no zone, each refused by `ZoneInfo` in its own way: not found, a ValueError
#: (an empty, absolute or relative path, a NUL), an OSError (a name too long for a file, a folder)
UNKNOWN_ZONE_KEYS = [
    "Mars/Base",
    "",
    " ",
    "europe/berlin",
    "Europe/Berlin ",
    "Europe/",
    "Europe",
    "Europe/Berlin/",
    "Europe//Berlin",
    "Europe/../UTC",
    "/etc/localtime",
    "../../etc/passwd",
    "..",
    "zone.tab",
    "tzdata.zi",
    "Etc/GMT+99",
    "Europe\\Berlin",
    "UTC\x00",
    "x" * 300,
    "Ω/🕐",
]
KNOWN_ZONE_KEYS = ["UTC", "Pacific/Chatham", "America/Argentina/Buenos_Aires", "Etc/GMT-14"]


@pytest.mark.contract(6)
@pytest.mark.guard("DJ-5")
@pytest.mark.urls("utc_datetimes.api")
def test_the_api_answers_every_key_that_names_no_zone_with_a_422(client: Client) -> None:
    """Any key that names no zone is a 422, however ZoneInfo refuses it; a real zone's key is a 200"""
    organization = OrganizationFactory.create()
    url = f"/api/v1/organizations/{organization.pk}/invoices/due-today"
    answers = {key: client.get(url, {"time_zone": key}).status_code for key in UNKNOWN_ZONE_KEYS + KNOWN_ZONE_KEYS}
    expected = dict.fromkeys(UNKNOWN_ZONE_KEYS, 422) | dict.fromkeys(KNOWN_ZONE_KEYS, 200)
    wrong = {key: status for key, status in answers.items() if status != expected[key]}
    check(
        not wrong,
        "The API answered these time zone keys wrongly: "
        + ", ".join(f"{key[:40]!r}: {status}, where {expected[key]} was due" for key, status in wrong.items())
        + ". `ZoneInfo()` refuses a key that names no zone with ZoneInfoNotFoundError, but also with "
        "ValueError (an empty key, a path, a NUL) or OSError (a key too long for a file name, a folder): each "
        "is the client's mistake, a 422, never a 500. Declare the parameter as `time_zone: ZoneInfo` and let "
        "Ninja validate it, or catch every way ZoneInfo refuses a key.",
    )


@pytest.mark.contract(4)
@pytest.mark.lesson("DJ-5")
def test_the_service_returns_due_times_in_utc() -> None:
    organization = OrganizationFactory.create()
    invoice = InvoiceFactory.create(organization=organization, due_at=datetime(2026, 3, 10, 5, 0, tzinfo=UTC))

    with now_is(datetime(2026, 3, 10, 1, 0, tzinfo=UTC)):
        due = invoices_due_today(organization.pk, AUCKLAND)

    assert [row.number for row in due] == [invoice.number], "The invoice due at 18:00 in Auckland must be listed."
    row = due[0]
    offset: Any = row.due_at.utcoffset()
    check(
        offset == timedelta(0) and row.due_at == invoice.due_at,
        f"invoices_due_today() returned {row.number} due at {row.due_at.isoformat()}: "
        + (
            "a naive datetime, which says nothing about its time zone"
            if offset is None
            else f"already converted to the user's clock (UTC offset {offset})"
        )
        + ". Services, storage and every computation speak UTC; only the presentation layer, here the "
        "API's response schema, converts to the user's time zone, because only it knows it shows a time "
        "to a person. Return the due time in UTC and convert it in `api.py`.",
    )


# --- generated scenarios: any moment of the year, any user's zone, any server TIME_ZONE ------------------------

#: zones with every kind of offset: half and quarter hours, a 30-minute DST (Lord Howe), both hemispheres
USER_ZONES = [
    "UTC",
    "Europe/Berlin",
    "America/Los_Angeles",
    "Pacific/Auckland",
    "Asia/Kathmandu",
    "Australia/Lord_Howe",
    "America/St_Johns",
    "Pacific/Chatham",
    "Pacific/Kiritimati",
    "Pacific/Pago_Pago",
]
SERVER_ZONES = ["UTC", SERVER_TIME_ZONE, "Asia/Kolkata", "Europe/Berlin"]
#: instants that matter around a day: a user's midnight, a microsecond either side, the middle of the day
#: any moment of 2026, in UTC (hypothesis takes naive bounds and attaches the zone it is given)
MOMENTS = st.datetimes(
    min_value=datetime(2026, 1, 1),  # noqa: DTZ001 - a naive bound, as hypothesis requires
    max_value=datetime(2027, 1, 1),  # noqa: DTZ001 - a naive bound, as hypothesis requires
    timezones=st.just(UTC),
)
EDGES = [timedelta(0), timedelta(microseconds=-1), timedelta(microseconds=1), timedelta(hours=12), timedelta(hours=-1)]
#: the zone the caller had made current before the call (a middleware activates the signed-in user's),
#: or none; none of them is a server's TIME_ZONE, so that a service that resets the zone is seen
CALLER_ZONES = [None, "Asia/Tokyo", "America/Sao_Paulo"]


@pytest.fixture(scope="module")
def reference_services() -> ModuleType:
    return reference("utc_datetimes.services")


@pytest.mark.lesson("DJ-5")
@pytest.mark.contract(1, 2, 3, 4)
@pytest.mark.timeout(120)  # generated examples: the default 10 s is for one scenario
@scenarios(30)
@given(
    now=MOMENTS,
    user_zone=st.sampled_from(USER_ZONES),
    server_zone=st.sampled_from(SERVER_ZONES),
    caller_zone=st.sampled_from(CALLER_ZONES),
    due=st.lists(
        st.tuples(st.integers(-1, 1), st.sampled_from(EDGES), st.sampled_from(list(Invoice.Status))),
        min_size=1,
        max_size=6,
    ),
)
def test_issuing_and_due_today_agree_with_the_reference_on_generated_scenarios(
    reference_services: ModuleType,
    now: datetime,
    user_zone: str,
    server_zone: str,
    caller_zone: str | None,
    due: list[tuple[int, timedelta, str]],
) -> None:
    zone = ZoneInfo(user_zone)
    today = now.astimezone(zone).date()
    with rolled_back():
        organization = OrganizationFactory.create()
        invoices = []
        for days, edge, status in due:
            midnight = datetime.combine(today + timedelta(days=days), datetime.min.time(), tzinfo=zone)
            invoices.append(InvoiceFactory.create(organization=organization, due_at=midnight + edge, status=status))
        with (
            now_is(now, server_time_zone=server_zone),
            timezone.override(ZoneInfo(caller_zone) if caller_zone else None),
        ):
            issued = issue_invoice(organization.pk, number="INV-NEW", customer_name="Acme", amount_due_cents=1)
            stored = Invoice.objects.get(pk=issued.pk)
            theirs = [(row.number, row.due_at) for row in invoices_due_today(organization.pk, zone)]
            expected = [
                (row.number, row.due_at) for row in reference_services.invoices_due_today(organization.pk, zone)
            ]
            active = timezone.get_current_timezone_name()
    caller = f"; the caller had activated {caller_zone}" if caller_zone else ""
    scenario = (
        f"at {now.isoformat()} ({shown(now, zone)} for a user in {user_zone}; the server's TIME_ZONE is "
        f"{server_zone}{caller}), with invoices due at "
        + ", ".join(f"{shown(invoice.due_at, zone)} {user_zone} ({invoice.status})" for invoice in invoices)
    )
    check(
        (stored.issued_at, stored.due_at) == (now, now + PAYMENT_TERMS),
        f"issue_invoice() {scenario}: stored issued_at {stored.issued_at.isoformat()} and due_at "
        f"{stored.due_at.isoformat()}, where {now.isoformat()} and {(now + PAYMENT_TERMS).isoformat()} were due. "
        "Store the moment in UTC (`timezone.now()`), and add the payment terms to that moment, not to a wall clock.",
    )
    check(
        [(number, moment.utcoffset()) for number, moment in theirs] == [(number, timedelta(0)) for number, _ in theirs]
        and theirs == expected,
        f"invoices_due_today() {scenario}:\n  listed {[(n, m.isoformat()) for n, m in theirs]}\n  where "
        f"{[(n, m.isoformat()) for n, m in expected]} was due (the open invoices of the user's today, from the "
        "first instant of the user's midnight to the last before the next, in due order, due times in UTC).\n"
        "Take today in the user's zone, bound it by the user's two midnights built in that zone, and return "
        "the due times as stored.",
    )
    if caller_zone is None:
        check(
            active == server_zone,
            f"After the service ran, Django's current time zone is {active}, not the server's {server_zone}: the "
            "service activated the user's zone (`timezone.activate`) and left it so for every request this "
            "worker serves next. Pass the zone to the call that needs it (`timezone.localdate(timezone=zone)`, "
            "`datetime.combine(..., tzinfo=zone)`) or use `with timezone.override(zone):`.",
        )
    else:
        check(
            active == caller_zone,
            f"{scenario}: after the service ran, Django's current time zone is {active}, not the {caller_zone} "
            "its caller had activated. The rest of that request (its templates, its forms, its log lines) now "
            "runs on another clock: `timezone.deactivate()` does not restore the caller's zone, it drops it for "
            "TIME_ZONE. Leave the current zone alone: pass the zone to the call that needs it "
            "(`timezone.localdate(timezone=zone)`, `datetime.combine(..., tzinfo=zone)`), or use "
            "`with timezone.override(zone):`, which puts back the zone it found.",
        )
