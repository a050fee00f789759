"""`dojo.tenants`: the look-alike addresses and the history replay of the graders of who may see or do what."""

import unicodedata

from dojo.tenants import UNKNOWN_INVOICE_GAP, Answered, asked_invoice, invoice_in_words, narrated, replay, spellings
from dojo.workshop.models import Workshop


def test_the_spellings_of_an_address_are_all_different_and_all_the_same_address_to_a_person() -> None:
    written = spellings("josé.alves@acme.test")

    assert written[0] == "josé.alves@acme.test"
    assert len(set(written)) == len(written) == 6
    assert {unicodedata.normalize("NFC", address).casefold() for address in written} == {"josé.alves@acme.test"}


def test_an_address_without_an_accent_has_no_decomposed_spelling_of_its_own() -> None:
    assert spellings("ap@acme.test") == ("ap@acme.test", "AP@ACME.TEST", "Ap@acme.test", "ap@ACME.TEST", "AP@acme.test")


def test_a_request_past_the_last_invoice_asks_for_an_id_no_invoice_has() -> None:
    invoices = [Workshop(pk=40), Workshop(pk=7)]

    assert [asked_invoice(invoices, index) for index in range(3)] == [40, 7, 7 + UNKNOWN_INVOICE_GAP]
    assert [invoice_in_words(index, len(invoices)) for index in range(3)] == [
        "invoice 0",
        "invoice 1",
        "an unknown invoice",
    ]


HISTORY = [("asks", 0, 1), ("joins", 1, 0), ("asks", 1, 0), ("leaves", 1, 0), ("asks", 1, 1)]


def in_words(what: str, member: int, target: int) -> str:
    return f"member {member} {what} {target}"


def test_a_history_is_replayed_in_order_changes_and_requests_each_where_it_stands() -> None:
    played: list[str] = []

    def change(what: str, member: int, target: int) -> None:
        played.append(in_words(what, member, target))

    def answer(member: int, target: int) -> int:
        played.append(in_words("asks", member, target))
        return 10 * member + target

    assert replay(HISTORY, request="asks", change=change, answer=answer) == [1, 10, 11]
    assert played == [in_words(*step) for step in HISTORY]


def test_a_replay_stops_after_the_first_answer_it_is_told_to_stop_at() -> None:
    asked: list[int] = []

    def answer(member: int, target: int) -> int:
        asked.append(target)
        return target

    answers = replay(HISTORY, request="asks", change=lambda *step: None, answer=answer, until=lambda got: got == 0)

    assert answers == asked == [1, 0]


def test_a_history_is_told_up_to_the_first_wrong_answer() -> None:
    answers = [Answered("as expected", wrong=False), Answered("refused, expected 200", wrong=True)]

    lines, wrong = narrated(HISTORY, answers, request="asks", in_words=in_words)

    assert wrong
    assert lines == ["member 0 asks 1: as expected", "member 1 joins 0", "member 1 asks 0: refused, expected 200"]


def test_a_history_answered_rightly_is_told_whole() -> None:
    lines, wrong = narrated(HISTORY, [Answered("as expected", wrong=False)] * 3, request="asks", in_words=in_words)

    assert not wrong
    assert len(lines) == len(HISTORY)
    assert lines[-1] == "member 1 asks 1: as expected"
