"""The `ast` checks on snippets: what each one finds, and the look-alikes it must leave alone."""

import ast
import textwrap

import pytest

from dojo.audit.importtime import plural_word
from dojo.audit.project import SourceFile
from dojo.audit.static import FileChecks


def checks_of(relative: str, code: str) -> list[str]:
    text = textwrap.dedent(code)
    source = SourceFile(path=None, relative=relative)  # type: ignore[arg-type]
    return sorted(finding.check for finding in FileChecks(source, ast.parse(text), text.splitlines()).run())


@pytest.mark.parametrize(
    ("relative", "code", "expected"),
    [
        pytest.param(
            "billing/services.py",
            """
            def move(a, b):
                a.save()
                b.save()
            """,
            ["multi-write-outside-transaction"],
            id="two-rows-saved-outside-a-transaction",
        ),
        pytest.param(
            "billing/services.py",
            """
            def activate(users):
                for user in users:
                    user.is_active = True
                    user.save()
            """,
            [],
            id="one-write-per-item-is-no-invariant",
        ),
        pytest.param(
            "billing/services.py",
            """
            def mark(invoice, sent):
                if sent:
                    invoice.save()
                    return invoice
                invoice.other.save()
                return invoice
            """,
            [],
            id="writes-on-two-paths-apart",
        ),
        pytest.param(
            "billing/services.py",
            """
            from django.db import transaction

            def pay(invoice, provider: PaymentProvider):
                with transaction.atomic():
                    provider.charge(invoice.total)
                    transaction.on_commit(lambda: provider.receipt(invoice))
            """,
            ["external-call-in-transaction"],
            id="a-call-of-an-injected-client-in-a-transaction",
        ),
        pytest.param(
            "billing/models.py",
            """
            from django.db import models
            from django.http import Http404

            class Invoice(models.Model):
                pass
            """,
            [],
            id="django-http-is-no-clients-module",
        ),
        pytest.param(
            "billing/models.py",
            """
            from django.db import models

            from .clients import EmailClient

            class Invoice(models.Model):
                pass
            """,
            ["side-effects-in-models"],
            id="a-model-module-that-imports-clients",
        ),
        pytest.param(
            "billing/services.py",
            """
            def match(payments, invoices):
                for payment in payments:
                    for invoice in invoices:
                        pass
            """,
            ["nested-loop-undocumented"],
            id="a-loop-over-another-collection",
        ),
        pytest.param(
            "billing/services.py",
            """
            def lines(ids):
                for invoice_id in ids:
                    invoice = fetch(invoice_id)
                    for line in invoice.lines:
                        pass
            """,
            [],
            id="a-loop-over-each-items-own-rows",
        ),
        pytest.param(
            "billing/services.py",
            '''
            def match(payments, invoices):
                """O(n * m): both lists hold a handful of rows."""
                for payment in payments:
                    for invoice in invoices:
                        pass
            ''',
            [],
            id="a-nested-loop-with-its-complexity-noted",
        ),
        pytest.param(
            "billing/tests/test_services.py",
            """
            import pytest

            @pytest.mark.skip(reason="flaky")
            def test_a():
                pass

            @pytest.mark.skipif(True, reason="on Windows")
            def test_b():
                pass
            """,
            ["skipped-tests"],
            id="an-unconditional-skip",
        ),
    ],
)
def test_a_check_finds_what_it_names_and_leaves_look_alikes_alone(
    relative: str, code: str, expected: list[str]
) -> None:
    assert checks_of(relative, code) == expected


@pytest.mark.parametrize(
    ("name", "plural"),
    [
        ("Organizations", "Organizations"),
        ("InvoiceLines", "Lines"),
        ("Categories", "Categories"),
        ("Organization", None),
        ("Address", None),
        ("OrderStatus", None),
        ("Analysis", None),
        ("Canvas", None),
        ("ApiKey", None),
    ],
)
def test_a_model_name_is_plural_when_its_last_word_is(name: str, plural: str | None) -> None:
    assert plural_word(name) == plural
