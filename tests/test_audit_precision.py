"""The false alarms that real projects showed, each with its true counterpart: a naive time never stored
(DJ-5), nested loops over small local lists (PERF-1), the import of a connection without SQL (DJ-4), a
create() then save() of one row and the admin's own transaction (DATA-1), services a test reaches (TEST-2)."""

import ast
import textwrap

import pytest

from dojo.audit.project import SourceFile
from dojo.audit.static import FileChecks, ModuleFacts, naive_value_kept, project_checks


def facts_of(relative: str, code: str) -> tuple[list[str], ModuleFacts]:
    text = textwrap.dedent(code)
    source = SourceFile(path=None, relative=relative)  # type: ignore[arg-type]
    checks = FileChecks(source, ast.parse(text), text.splitlines())
    return sorted(finding.check for finding in checks.run()), checks.facts


def checks_of(relative: str, code: str) -> list[str]:
    return facts_of(relative, code)[0]


@pytest.mark.parametrize(
    ("code", "kept"),
    [
        ("stamp = datetime.now()\nprint(f'{stamp.year}')", False),
        ("label = datetime.now().strftime('%Y')", False),
        ("if deadline < datetime.now():\n    pass", False),
        ("logger.info('at %s', datetime.now())", False),
        ("aware = timezone.make_aware(datetime.now())", False),
        ("order.paid_at = datetime.now()", True),
        ("Order.objects.create(paid_at=datetime.now())", True),
        ("stamp = datetime.now()\nOrder.objects.filter(created_at__lte=stamp)", True),
        ("start = datetime.now() - timedelta(days=1)\nrows = Order.objects.filter(created_at__gte=start)", True),
        ("def stamp():\n    return datetime.now()", True),
    ],
)
def test_a_naive_time_is_a_finding_only_where_it_can_be_stored_or_queried(code: str, kept: bool) -> None:
    tree = ast.parse(code)
    line = next(node.lineno for node in ast.walk(tree) if isinstance(node, ast.Call) and "now" in ast.unparse(node))
    assert naive_value_kept(tree, line) is kept


@pytest.mark.parametrize(
    ("relative", "code", "expected"),
    [
        pytest.param(
            "reports/services.py",
            """
            def rows(orders):
                columns = ["number", "total", "status"]
                for order in orders:
                    for column in columns:
                        print(getattr(order, column))
            """,
            [],
            id="perf1-inner-loop-over-a-small-local-list",
        ),
        pytest.param(
            "reports/services.py",
            """
            def matches(orders, payments):
                found = []
                for order in orders:
                    for payment in payments:
                        if payment.order_id == order.id:
                            found.append(payment)
                return found
            """,
            ["nested-loop-undocumented"],
            id="perf1-a-product-of-two-inputs",
        ),
        pytest.param(
            "reports/services.py",
            """
            def rows(orders, extra):
                columns = ["number"]
                columns.extend(extra)
                for order in orders:
                    for column in columns:
                        print(getattr(order, column))
            """,
            ["nested-loop-undocumented"],
            id="perf1-a-local-list-that-grows-is-not-small",
        ),
        pytest.param(
            "reports/services.py",
            """
            from django.db import connection


            def count(model):
                return connection.vendor
            """,
            [],
            id="dj4-the-import-of-connection-is-no-sql",
        ),
        pytest.param(
            "reports/services.py",
            """
            from django.db import connection


            def totals():
                with connection.cursor() as cursor:
                    cursor.execute("SELECT 1")
                    return cursor.fetchall()
            """,
            ["raw-connection"],
            id="dj4-sql-through-the-connection",
        ),
        pytest.param(
            "billing/services.py",
            """
            def open_account(owner):
                account = Account.objects.create(owner=owner)
                account.number = f"A{account.pk}"
                account.save()
                return account
            """,
            [],
            id="data1-create-then-save-of-one-row",
        ),
        pytest.param(
            "billing/services.py",
            """
            def open_account(owner):
                account = Account.objects.create(owner=owner)
                Ledger.objects.create(account=account)
                return account
            """,
            ["multi-write-outside-transaction"],
            id="data1-two-rows",
        ),
        pytest.param(
            "billing/admin.py",
            """
            from django.contrib import admin


            class AccountAdmin(admin.ModelAdmin):
                def save_model(self, request, obj, form, change):
                    obj.save()
                    Ledger.objects.create(account=obj)
            """,
            [],
            id="data1-inside-the-admins-own-transaction",
        ),
        pytest.param(
            "billing/admin.py",
            """
            from django.contrib import admin


            class AccountAdmin(admin.ModelAdmin):
                def close_all(self, request, queryset):
                    Account.objects.filter(pk__in=queryset).update(closed=True)
                    Ledger.objects.create(note="closed")
            """,
            ["multi-write-outside-transaction"],
            id="data1-an-admin-action-has-no-transaction",
        ),
    ],
)
def test_a_look_alike_is_left_alone_and_the_real_thing_found(relative: str, code: str, expected: list[str]) -> None:
    assert checks_of(relative, code) == expected


SERVICES = """
    def pay(invoice):
        invoice.paid = True
        return charge(invoice)


    def charge(invoice):
        invoice.charged = True
        return invoice


    def refund(invoice):
        invoice.refunded = True
        return invoice


    def export(invoice):
        invoice.exported = True
        return invoice


    def trigger_not_found():
        raise LookupError("a one-line trigger is no business logic of its own")
"""


def untested(tests: dict[str, str], views: str = "") -> list[str]:
    facts = [facts_of("billing/services.py", SERVICES)[1]]
    facts += [facts_of(path, code)[1] for path, code in tests.items()]
    if views:
        facts.append(facts_of("billing/views.py", views)[1])
    return sorted(
        finding.message.split("`")[1]
        for finding in project_checks(facts, app_folder=False)
        if finding.check == "untested-services"
    )


def test_test2_a_service_called_by_a_tested_service_is_reached() -> None:
    assert untested({"tests/test_billing.py": "from billing.services import pay\n\npay(1)\n"}) == ["export", "refund"]


def test_test2_a_tests_module_named_tests_something_is_a_test() -> None:
    tests = {"billing/tests_services.py": "from billing import services\n\nservices.refund(1)\n"}
    assert untested(tests) == ["charge", "export", "pay"]


def test_test2_a_service_a_view_calls_is_reached_by_tests_that_send_requests() -> None:
    views = "from billing.services import export\n\n\ndef download(request):\n    return export(request)\n"
    tests = {"tests/test_views.py": "def test_download(client):\n    client.get('/download')\n"}
    assert untested(tests, views) == ["charge", "pay", "refund"]


# --- recall: what the audit used to miss ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        pytest.param(
            """
            @router.get("/orders/{order_id}")
            def order(request, order_id: int):
                return Order.objects.get(pk=order_id)
            """,
            ["orm-in-routes", "unscoped-object-access"],
            id="arch6-a-row-by-id-for-anyone",
        ),
        pytest.param(
            """
            @router.get("/orders/{order_id}")
            def order(request, order_id: int):
                return get_object_or_404(Order, pk=order_id, owner=request.user)
            """,
            ["orm-in-routes"],
            id="arch6-a-row-by-id-for-its-owner",
        ),
        pytest.param(
            """
            def user_detail(request, user_id):
                return BaseUser.objects.get(pk=user_id)
            """,
            ["orm-in-routes", "unscoped-object-access"],
            id="arch6-a-user-id-from-the-url-is-not-the-caller",
        ),
        pytest.param(
            """
            @router.get("/orders/{order_id}")
            def order(request, order_id: int):
                return services.order_for(request.user, order_id)
            """,
            [],
            id="arch6-the-service-fetches-it-for-the-caller",
        ),
    ],
)
def test_a_route_fetching_a_row_by_id_with_no_scope_is_arch6(code: str, expected: list[str]) -> None:
    assert checks_of("orders/api.py", code) == expected


def test_a_call_out_one_call_deep_inside_a_transaction_is_data2() -> None:
    code = """
        import httpx
        from django.db import transaction


        def notify(order):
            httpx.post("https://shipping.test", json={}, timeout=5)


        def confirm(order):
            with transaction.atomic():
                order.save()
                notify(order)


        def confirm_then_notify(order):
            with transaction.atomic():
                order.save()
            notify(order)
    """
    text = textwrap.dedent(code)
    source = SourceFile(path=None, relative="orders/services.py")  # type: ignore[arg-type]
    found = FileChecks(source, ast.parse(text), text.splitlines()).run()
    assert [(finding.check, finding.line) for finding in found] == [("external-call-in-transaction", 13)]
    assert "`notify()` calls out (`httpx.post()`)" in found[0].message


def test_test6_a_test_named_after_a_feature_or_a_flattened_path_mirrors_nothing() -> None:
    # the rule page: `apps/payments/webhooks/handlers.py` is tested in `tests/payments/webhooks/test_handlers.py`
    facts = [
        facts_of("package/repos/github.py", "def fetch(url):\n    return url\n")[1],
        facts_of("roster/services.py", "def roster_create(name):\n    return name\n")[1],
        facts_of("tests/repos/test_github.py", "def test_fetch():\n    assert True\n")[1],
        facts_of("package/tests/test_repos_github.py", "def test_fetch():\n    assert True\n")[1],
        facts_of("roster/tests/test_roster_create.py", "def test_it():\n    assert True\n")[1],
    ]
    layout = [finding.path for finding in project_checks(facts, app_folder=False) if finding.check == "test-layout"]
    assert layout == ["package/tests/test_repos_github.py", "roster/tests/test_roster_create.py"]


@pytest.mark.parametrize(
    ("relative", "code"),
    [
        pytest.param(
            "catalog/management/commands/reset_demo.py",
            "def handle():\n    Country.objects.all().delete()\n    Country.objects.create(title='x')\n",
            id="a-management-command",
        ),
        pytest.param(
            "search/builders.py",
            "def upsert(new, old):\n    Entry.objects.bulk_create(new)\n    Entry.objects.bulk_update(old, ['a'])\n",
            id="bulk-writes-of-independent-rows",
        ),
    ],
)
def test_data1_leaves_data_work_alone(relative: str, code: str) -> None:
    assert checks_of(relative, code) == []
