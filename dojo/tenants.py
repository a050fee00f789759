"""Generated tenants for the graders of who may see or do what (`service_authorization`, `service_roles`).

- `start_ids_apart()` makes each table's IDs start far from the others', so that a check comparing the
  ID of one table with another's finds nothing, as in production.
- `spellings()` writes one address in the ways people write it (other letter cases, an accented letter
  composed or not): each is another member's, and a check that finds a member by address mixes them up.
- A generated history is a list of steps `(what, member, target)`: changes between requests (a
  membership added or removed, a role given) and requests (a member asks for an invoice, or voids one).
  `replay()` plays one in order, `asked_invoice()` gives the ID a request asks for, and `narrated()`
  puts the history in words, up to the first request that was answered wrongly.
"""

import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import NamedTuple

from django.db import connection
from django.db.models import Model

#: how far past the last invoice of a history the ID of "an unknown invoice" lies
UNKNOWN_INVOICE_GAP = 1_000


def start_ids_apart(starts: Mapping[type[Model], int]) -> None:
    """Make the next ID of each table the one `starts` gives (or later), on SQLite and on PostgreSQL."""
    with connection.cursor() as cursor:
        for model, start in starts.items():
            table = model._meta.db_table
            if connection.vendor == "postgresql":
                highest = f'(SELECT COALESCE(MAX(id), 0) FROM "{table}")'  # noqa: S608 - a table name of ours
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence(%s, %s), GREATEST(%s, {highest} + 1), false)",
                    [table, "id", start],
                )
            else:  # SQLite: AUTOINCREMENT tables count in sqlite_sequence
                cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
                row = cursor.fetchone()
                seq = max(start - 1, row[0] if row else 0)
                cursor.execute("DELETE FROM sqlite_sequence WHERE name = %s", [table])
                cursor.execute("INSERT INTO sqlite_sequence (name, seq) VALUES (%s, %s)", [table, seq])


def spellings(address: str) -> tuple[str, ...]:
    """One address as people write it: in other cases, and with its accented letter composed or not."""
    local, domain = address.split("@")
    decomposed = unicodedata.normalize("NFD", local)
    return tuple(
        dict.fromkeys(
            [
                address,
                address.upper(),
                f"{local.capitalize()}@{domain}",
                f"{local}@{domain.upper()}",
                f"{decomposed}@{domain}",
                f"{decomposed.upper()}@{domain}",
            ]
        )
    )


def asked_invoice(invoices: Sequence[Model], index: int) -> int:
    """The ID a request of a history asks for: the `index`-th invoice's, or, for an index past the last
    invoice, an ID that no invoice has."""
    if index < len(invoices):
        return int(invoices[index].pk)
    return int(invoices[-1].pk) + UNKNOWN_INVOICE_GAP


def invoice_in_words(index: int, invoices: int) -> str:
    """The invoice a request of a history asks for, in words: the `index`-th of `invoices`, or an unknown one."""
    return f"invoice {index}" if index < invoices else "an unknown invoice"


class Answered(NamedTuple):
    """What a request of a history was answered, in words, and whether that is not what the reference answers."""

    words: str
    wrong: bool


def replay[Target, Answer](
    steps: Iterable[tuple[str, int, Target]],
    *,
    request: str,
    change: Callable[[str, int, Target], None],
    answer: Callable[[int, Target], Answer],
    until: Callable[[Answer], bool] | None = None,
) -> list[Answer]:
    """Play the steps in order: each change as `change` makes it, each request (a step whose `what` is
    `request`) through `answer`, up to the first answer `until` holds for; the requests' answers, in order."""
    answers: list[Answer] = []
    for what, member, target in steps:
        if what != request:
            change(what, member, target)
            continue
        answers.append(answer(member, target))
        if until is not None and until(answers[-1]):
            break
    return answers


def narrated[Target](
    steps: Iterable[tuple[str, int, Target]],
    answers: Iterable[Answered],
    *,
    request: str,
    in_words: Callable[[str, int, Target], str],
) -> tuple[list[str], bool]:
    """The steps in words, each request's followed by what it was answered, up to the first request that
    was answered wrongly; and whether one was."""
    lines = []
    answered = iter(answers)
    for what, member, target in steps:
        words = in_words(what, member, target)
        if what != request:
            lines.append(words)
            continue
        outcome, wrong = next(answered)
        lines.append(f"{words}: {outcome}")
        if wrong:
            return lines, True
    return lines, False
