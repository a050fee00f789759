"""The checks ruff has no rule for, on the syntax tree of each file (the standard library's `ast`).

Each check reads one file at a time, except the project-level ones (factories, test layout, tested
services, one HTTP wrapper), which read the summaries the per-file pass leaves behind.
"""

import ast
import bisect
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from dojo.audit.findings import Finding
from dojo.audit.project import SourceFile

ROUTE_METHODS = frozenset({"get", "post", "put", "patch", "delete", "head", "options", "api_operation"})
VIEW_METHODS = frozenset({
    "get", "post", "put", "patch", "delete", "list", "create", "retrieve", "update", "partial_update", "destroy",
})  # fmt: skip
ORM_WRITES = frozenset({
    "create", "update", "delete", "bulk_create", "bulk_update", "get_or_create", "update_or_create",
})  # fmt: skip
HTTP_LIBRARIES = frozenset({"httpx", "requests", "urllib3", "aiohttp", "urllib.request", "http.client", "pycurl"})
EXTERNAL_LIBRARIES = HTTP_LIBRARIES | {"smtplib", "boto3", "botocore", "stripe"}
MAIL_FUNCTIONS = frozenset({"send_mail", "send_mass_mail", "mail_admins", "mail_managers"})
PUBLISH_METHODS = frozenset({
    "publish", "emit", "send_event", "dispatch", "enqueue", "delay", "apply_async", "send_task", "notify", "broadcast",
})  # fmt: skip
CLIENT_MODULES = frozenset(
    {"clients", "client", "http", "gateways", "gateway", "integrations", "providers", "adapters"}
)
CLIENT_TYPE = re.compile(r"(Client|Provider|Gateway|Bus|Queue|Publisher|Mailer|Sender|Http|Session|Api|API)$")
CLIENT_FACTORY = re.compile(r"(client|_http|http|session)$", re.IGNORECASE)
HAND_PARSED = frozenset({"request.body", "request.POST", "request.GET", "request.FILES"})
DB_CONNECTIONS = frozenset({"connection", "connections"})
REQUEST_ACTORS = ("request.user", "request.auth", "self.request.user", "self.request.auth")
COMPLEXITY_NOTE = re.compile(r"\bO\(")
TEST_CASE_BASES = re.compile(r"(^|\.)(TestCase|SimpleTestCase|TransactionTestCase|LiveServerTestCase|APITestCase)$")


def dotted(node: ast.AST) -> str:
    """`a.b.c` for a chain of names and attributes; calls in the chain appear as `()`."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{dotted(node.value)}.{node.attr}"
    if isinstance(node, ast.Call):
        return f"{dotted(node.func)}()"
    return ""


@dataclass
class ModuleFacts:
    """What the project-level checks need to know about one file."""

    source: SourceFile
    models: dict[str, int] = field(default_factory=dict)  # model class name -> line
    abstract_models: set[str] = field(default_factory=set)
    factory_models: set[str] = field(default_factory=set)
    service_functions: dict[str, int] = field(default_factory=dict)
    names: set[str] = field(default_factory=set)  # every identifier the module uses
    http_imports: list[tuple[int, str]] = field(default_factory=list)
    tree: ast.Module = field(default_factory=lambda: ast.Module(body=[], type_ignores=[]))
    service_calls: dict[str, set[str]] = field(default_factory=dict)  # service -> the names it calls
    route_calls: set[str] = field(default_factory=set)  # names called by routes and views


class FileChecks:
    """Every per-file check, in one walk over one module."""

    def __init__(self, source: SourceFile, tree: ast.Module, lines: list[str]) -> None:
        self.source = source
        self.tree = tree
        self.lines = lines
        self.findings: list[Finding] = []
        self.facts = ModuleFacts(source, tree=tree)
        self.nodes = list(ast.walk(tree))  # walked once: every check reads this list
        self.for_lines = sorted(node.lineno for node in self.nodes if isinstance(node, ast.For))
        text = "\n".join(lines)
        self.has_atomic = "atomic" in text
        self.has_writes = any(word in text for word in (".save(", ".delete(", ".objects"))
        path = PurePosixPath(source.relative)
        self.stem = path.stem if path.stem != "__init__" else path.parent.name
        self.parts = set(path.parts[:-1]) | {self.stem}
        self.is_service = "services" in self.parts or self.stem.endswith("services")
        # a management command or a script: data work run by hand, not a request's invariant or a test's data
        self.is_command = ("commands" in self.parts and "management" in self.parts) or "scripts" in self.parts
        self.is_models = "models" in self.parts
        self.is_views = bool({"views", "api", "apis", "viewsets", "routers", "endpoints"} & self.parts)
        self.client_types = self._client_types()
        self.callouts = self._callouts() if self.has_atomic else {}
        self.owner_bases = {
            id(inner): tuple(dotted(base) for base in node.bases)
            for node in self.nodes
            if isinstance(node, ast.ClassDef)
            for inner in node.body
            if isinstance(inner, ast.FunctionDef | ast.AsyncFunctionDef)
        }
        self.small_names = _literal_names([node for node in tree.body if isinstance(node, ast.Assign | ast.AnnAssign)])

    def add(self, node: ast.AST, rule: str, check: str, message: str) -> None:
        line = getattr(node, "lineno", 1)
        text = self.lines[line - 1].strip() if 0 < line <= len(self.lines) else ""
        self.findings.append(Finding(self.source.relative, line, rule, check, message, text))

    def run(self) -> list[Finding]:
        self._imports()
        for node in self.nodes:
            if isinstance(node, ast.Name):
                self.facts.names.add(node.id)
            elif isinstance(node, ast.Attribute):
                self.facts.names.add(node.attr)
        if self.source.is_test:
            self._tests()
        elif not self.source.is_migration:
            self._code()
        self._classes()
        return self.findings

    # --- imports ----------------------------------------------------------------------------------

    def _client_types(self) -> set[str]:
        """Names imported from a clients module: annotations of injected clients."""
        names: set[str] = set()
        for node in self.nodes:
            if isinstance(node, ast.ImportFrom) and node.module and node.module.rsplit(".", 1)[-1] in CLIENT_MODULES:
                names.update(alias.asname or alias.name for alias in node.names)
        return names

    def _imports(self) -> None:
        if self.source.is_test or self.source.is_migration:
            return
        for node in self.nodes:
            modules: list[str] = []
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                modules = [node.module]
            for module in modules:
                for library in HTTP_LIBRARIES:
                    if module == library or module.startswith(f"{library}."):
                        self.facts.http_imports.append((getattr(node, "lineno", 1), library))
            if self.is_models and isinstance(node, ast.ImportFrom) and node.module and not _framework(node.module):
                last = node.module.rsplit(".", 1)[-1]
                top = node.module.split(".", 1)[0]
                if last in {"clients", "client", "services", "tasks", "http"} or top in EXTERNAL_LIBRARIES:
                    self.add(
                        node,
                        "ARCH-3",
                        "side-effects-in-models",
                        f"The model module imports `{'.' * node.level}{node.module}`: side effects belong in services.",
                    )

    # --- tests ------------------------------------------------------------------------------------

    def _tests(self) -> None:
        for node in self.nodes:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                for decorator in node.decorator_list:
                    name = dotted(decorator.func if isinstance(decorator, ast.Call) else decorator)
                    if name in {"pytest.mark.skip", "unittest.skip", "skip", "mark.skip"}:
                        reason = _reason(decorator)
                        self.add(decorator, "TEST-1", "skipped-tests", f"`{node.name}` is always skipped{reason}.")
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and _is_fixture(node):
                    for inner in ast.walk(node):
                        if isinstance(inner, ast.Call) and _orm_write(inner):
                            self.add(
                                inner,
                                "TEST-5",
                                "data-fixtures",
                                f"The fixture `{node.name}` creates rows itself: make test data with a factory.",
                            )
                            break
            if isinstance(node, ast.Assign):
                targets = [dotted(target) for target in node.targets]
                if (
                    "pytestmark" in targets
                    and "skip" in ast.unparse(node.value)
                    and "skipif" not in ast.unparse(node.value)
                ):
                    self.add(node, "TEST-1", "skipped-tests", "Every test of this module is skipped (`pytestmark`).")
                if "fixtures" in targets:
                    self.add(node, "TEST-5", "data-fixtures", "The test case loads data fixtures: use factories.")
            if isinstance(node, ast.Call):
                name = dotted(node.func)
                if name in {"pytest.skip", "skip"} and isinstance(node.func, ast.Attribute):
                    self.add(node, "TEST-1", "skipped-tests", f"A test calls `pytest.skip(){_reason(node)}`.")
                if _loads_data(node):
                    self.add(node, "TEST-5", "data-fixtures", "Tests load data with `loaddata`: use factories.")

    # --- application code -------------------------------------------------------------------------

    def _connection_names(self) -> set[str]:
        """The names this module binds to Django's database connections (`from django.db import connection`)."""
        names: set[str] = set()
        for node in self.nodes:
            if isinstance(node, ast.ImportFrom) and node.module in {"django.db", "django.db.backends"}:
                names |= {alias.asname or alias.name for alias in node.names if alias.name in DB_CONNECTIONS}
            elif isinstance(node, ast.Import) and any(alias.name == "django" for alias in node.names):
                names |= {"django.db.connection", "django.db.connections"}
        return names

    def _raw_sql(self, call: ast.Call, connections: set[str]) -> None:
        """SQL sent through a connection: `connection.cursor()`, `connections["x"].cursor()`, its execute()."""
        if not isinstance(call.func, ast.Attribute) or call.func.attr not in {"cursor", "execute", "executemany"}:
            return
        receiver = call.func.value
        if isinstance(receiver, ast.Subscript):
            receiver = receiver.value
        if dotted(receiver) in connections:
            self.add(
                call,
                "DJ-4",
                "raw-connection",
                f"SQL through `{ast.unparse(call.func)}()`: use the ORM, or say why raw SQL is necessary here.",
            )

    def _code(self) -> None:
        connections = self._connection_names()
        for node in self.nodes:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                self._function(node)
            if connections and isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                self._raw_sql(node, connections)
            if isinstance(node, ast.Call) and _loads_data(node) and not self.is_command:
                self.add(node, "TEST-5", "data-fixtures", "Code loads data with `loaddata`.")

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        route = self._route_kind(node)
        called = {dotted(call.func).rsplit(".", 1)[-1] for call in _calls(node)}
        if route or self.is_views:
            self.facts.route_calls |= called
        if route:
            self._route(node, route)
        if self.is_service:
            self.facts.service_calls.setdefault(node.name, set()).update(called)
        if self.is_service and not node.name.startswith("_") and node.col_offset == 0 and _has_logic(node):
            self.facts.service_functions[node.name] = node.lineno
        if self.is_service:
            for call in _calls(node):
                name = dotted(call.func).removesuffix("()")
                last = name.rsplit(".", 1)[-1]
                if CLIENT_FACTORY.search(last) and last[:1].isalpha() and name not in {"super"}:
                    self.add(
                        call,
                        "ARCH-4",
                        "client-built-in-service",
                        f"`{node.name}` builds its client (`{name}()`): receive it as an argument, so tests can pass a fake.",  # noqa: E501
                    )
        if self.has_atomic:
            self._transactions(node)
        if self.has_writes:
            self._writes(node)
        self._loops(node)

    def _route_kind(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
        for decorator in node.decorator_list:
            if (
                isinstance(decorator, ast.Call)
                and isinstance(decorator.func, ast.Attribute)
                and decorator.func.attr in ROUTE_METHODS
                and isinstance(decorator.func.value, ast.Name | ast.Attribute)
            ):
                return "ninja"
            if dotted(decorator.func if isinstance(decorator, ast.Call) else decorator) in {"action", "api_view"}:
                return "view"
        args = [arg.arg for arg in node.args.args]
        if self.is_views and args[:1] == ["request"] and node.col_offset == 0:
            return "view"
        if self.is_views and args[:2] == ["self", "request"] and node.name in VIEW_METHODS:
            return "view"
        return ""

    def _route(self, node: ast.FunctionDef | ast.AsyncFunctionDef, kind: str) -> None:
        queried = written = authorized = parsed = unscoped = False
        ids = {
            arg.arg
            for arg in [*node.args.args, *node.args.kwonlyargs]
            if arg.arg in {"id", "pk", "uuid"} or arg.arg.endswith(("_id", "_pk", "_uuid"))
        }
        scoped = bool(SCOPE_WORDS.search(ast.unparse(node)))
        for inner in ast.walk(node):
            if isinstance(inner, ast.Call):
                chain = dotted(inner.func)
                if not queried and (".objects." in f"{chain}." or chain in {"get_object_or_404", "get_list_or_404"}):
                    queried = True
                    self.add(
                        inner, "ARCH-1", "orm-in-routes", f"The route `{node.name}` queries the ORM: call a service."
                    )
                if not written and (_orm_write(inner) or chain.endswith("transaction.atomic") or chain == "atomic"):
                    written = True
                    self.add(
                        inner,
                        "ARCH-2",
                        "writes-in-routes",
                        f"The route `{node.name}` writes rows itself: a service does.",
                    )
                if not authorized and not unscoped and _fetches_by_id(inner, chain, ids) and not scoped:
                    unscoped = True
                    self.add(
                        inner,
                        "ARCH-6",
                        "unscoped-object-access",
                        f"The route `{node.name}` fetches a row by `{_id_used(inner, ids)}` from the URL with no user "
                        "or tenant in the query: let a service fetch it for the caller.",
                    )
                if not authorized and ".objects." in f"{chain}." and _mentions_actor(inner):
                    authorized = True
                    self.add(
                        inner,
                        "ARCH-6",
                        "authorization-in-routes",
                        f"The route `{node.name}` decides what the user may see: pass the user to the service.",
                    )
            if isinstance(inner, ast.With):
                for item in inner.items:
                    if not written and _is_atomic(item.context_expr):
                        written = True
                        self.add(
                            inner,
                            "ARCH-2",
                            "writes-in-routes",
                            f"The route `{node.name}` opens a transaction: a service does.",
                        )
            if kind == "ninja" and not parsed and isinstance(inner, ast.Attribute) and dotted(inner) in HAND_PARSED:
                parsed = True
                self.add(
                    inner,
                    "API-2",
                    "hand-parsed-requests",
                    f"The route `{node.name}` reads `{dotted(inner)}` itself: declare a Schema parameter.",
                )

    def _callouts(self) -> dict[str, str]:
        """The module's own functions and methods that call out (HTTP, mail, an injected client), by name,
        with the first such call: a call of one inside a transaction calls out one level deeper."""
        found: dict[str, str] = {}
        for node in self.nodes:
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            injected = self._injected(node)
            for call in _calls_outside_on_commit_of(node.body):
                chain = dotted(call.func)
                if self._external(chain, injected):
                    found.setdefault(node.name, chain)
                    break
        return found

    def _external(self, chain: str, injected: set[str]) -> bool:
        root = chain.split(".", 1)[0]
        method = chain.rsplit(".", 1)[-1]
        return root in injected or root in {lib.split(".")[0] for lib in EXTERNAL_LIBRARIES} or method in MAIL_FUNCTIONS

    def _transactions(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        """External calls and event publishing inside the atomic blocks of one function."""
        injected = self._injected(node)
        if any(_is_atomic(decorator) for decorator in node.decorator_list):
            blocks: list[list[ast.stmt]] = [node.body]
        else:
            blocks = [
                inner.body
                for inner in _own_nodes(node)
                if isinstance(inner, ast.With | ast.AsyncWith) and any(_is_atomic(i.context_expr) for i in inner.items)
            ]
        for body in blocks:
            for statement in body:
                for call in _calls_outside_on_commit(statement):
                    self._call_in_transaction(node, call, injected)

    def _injected(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
        """Parameters that hold a client: typed with a clients-module type or a `*Client`-like name."""
        names = set()
        for arg in [*node.args.args, *node.args.kwonlyargs, *node.args.posonlyargs]:
            if arg.annotation is None:
                continue
            annotation = dotted(arg.annotation).rsplit(".", 1)[-1]
            if annotation in self.client_types or CLIENT_TYPE.search(annotation):
                names.add(arg.arg)
        return names

    def _call_in_transaction(
        self, node: ast.FunctionDef | ast.AsyncFunctionDef, call: ast.Call, injected: set[str]
    ) -> None:
        chain = dotted(call.func)
        root = chain.split(".", 1)[0]
        method = chain.rsplit(".", 1)[-1]
        external = (
            root in injected or root in {lib.split(".")[0] for lib in EXTERNAL_LIBRARIES} or method in MAIL_FUNCTIONS
        )
        if method in PUBLISH_METHODS and (external or method in {"delay", "apply_async", "send_task"}):
            self.add(
                call,
                "DATA-5",
                "publish-in-transaction",
                f"`{chain}()` runs inside a transaction: publish with `transaction.on_commit()`.",
            )
        elif external:
            self.add(
                call,
                "DATA-2",
                "external-call-in-transaction",
                f"`{chain}()` calls out while `{node.name}` holds a transaction open: call it before or after.",
            )
        elif isinstance(call.func, ast.Name | ast.Attribute) and chain.split(".", 1)[0] in {method, "self", "cls"}:
            deeper = self.callouts.get(method)
            if deeper and method != node.name:
                self.add(
                    call,
                    "DATA-2",
                    "external-call-in-transaction",
                    f"`{chain}()` calls out (`{deeper}()`) while `{node.name}` holds a transaction open: "
                    "call it before or after.",
                )

    def _writes(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        if any(_is_atomic(decorator) for decorator in node.decorator_list) or node.name == "save":
            return
        if self.is_command or _bulk_only(node):
            return
        if node.name in ADMIN_ATOMIC and any(base.endswith(ADMIN_BASES) for base in self.owner_bases.get(id(node), ())):
            return  # Django's admin runs these inside the transaction of its change and delete views
        writes = _count_writes(node.body)
        if writes >= 2:
            self.add(
                node,
                "DATA-1",
                "multi-write-outside-transaction",
                f"`{node.name}` writes {writes} times outside `transaction.atomic()`: a failure half-way leaves half a change.",  # noqa: E501
            )

    def _loops(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        start, end = node.lineno, getattr(node, "end_lineno", node.lineno) or node.lineno
        if bisect.bisect_right(self.for_lines, end) - bisect.bisect_left(self.for_lines, start) < 2:
            return  # fewer than two loops: nothing nested
        if COMPLEXITY_NOTE.search("\n".join(self.lines[start - 1 : end])):
            return
        small = self.small_names | _literal_names(node.body)
        for outer in _own_nodes(node):
            if not isinstance(outer, ast.For) or _small(outer.iter, small):
                continue
            # the outer loop's names, and every name assigned in its body: an inner loop over those is per item
            bound = _bound_names(outer.target) | _assigned_names(outer.body)
            for inner in _own_nodes_of(outer.body):
                if isinstance(inner, ast.For) and not _small(inner.iter, small):
                    used = {name.id for name in ast.walk(inner.iter) if isinstance(name, ast.Name)}
                    if not used & bound:
                        self.add(
                            inner,
                            "PERF-1",
                            "nested-loop-undocumented",
                            f"A loop over `{ast.unparse(inner.iter)}` inside a loop over `{ast.unparse(outer.iter)}` "
                            "costs their product: index one side, or note the O() trade-off.",
                        )
                        return

    # --- classes: models, factories, test cases ----------------------------------------------------

    def _classes(self) -> None:
        for node in self.nodes:
            if not isinstance(node, ast.ClassDef):
                continue
            bases = [dotted(base.value if isinstance(base, ast.Subscript) else base) for base in node.bases]
            meta = _meta(node)
            if self.is_models and any(base.endswith(("models.Model", "Model")) for base in bases):
                if _constant(meta.get("abstract")) is True or _constant(meta.get("proxy")) is True:
                    self.facts.abstract_models.add(node.name)
                else:
                    self.facts.models[node.name] = node.lineno
            if any(base.endswith("Factory") for base in bases) and "model" in meta:
                target = meta["model"]
                name = _constant(target)
                self.facts.factory_models.add(
                    name.rsplit(".", 1)[-1] if isinstance(name, str) else dotted(target).rsplit(".", 1)[-1]
                )
            if self.source.is_test and any(TEST_CASE_BASES.search(base) for base in bases):
                self.add(node, "TEST-3", "pytest-style", f"`{node.name}` is a {bases[0]}: write pytest functions.")
            if self.is_models and any(base.endswith("Model") for base in bases):
                for inner in ast.walk(node):
                    if isinstance(inner, ast.Call):
                        chain = dotted(inner.func)
                        if chain.rsplit(".", 1)[-1] in MAIL_FUNCTIONS or (
                            chain.endswith(".send") and "Client" in chain
                        ):
                            self.add(
                                inner,
                                "ARCH-3",
                                "side-effects-in-models",
                                f"The model `{node.name}` sends mail itself: a service does, after the commit.",
                            )


# --- helpers -------------------------------------------------------------------------------------


def _framework(module: str) -> bool:
    """Django's and DRF's own modules (`django.http` is not a clients module of the project's)."""
    return module.split(".", 1)[0] in {"django", "rest_framework", "ninja"}


def _constant(node: ast.AST | None) -> object:
    return node.value if isinstance(node, ast.Constant) else None


def _reason(node: ast.AST) -> str:
    if isinstance(node, ast.Call):
        for keyword in node.keywords:
            if keyword.arg in {"reason", "msg"} and isinstance(_constant(keyword.value), str):
                return f" ({_constant(keyword.value)})"
        if node.args and isinstance(_constant(node.args[0]), str):
            return f" ({_constant(node.args[0])})"
    return ""


def _loads_data(call: ast.Call) -> bool:
    return dotted(call.func).endswith("call_command") and bool(call.args) and _constant(call.args[0]) == "loaddata"


def _is_fixture(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    for decorator in node.decorator_list:
        name = dotted(decorator.func if isinstance(decorator, ast.Call) else decorator)
        if name in {"pytest.fixture", "fixture"}:
            return True
    return False


def _is_atomic(node: ast.AST) -> bool:
    target = node.func if isinstance(node, ast.Call) else node
    return dotted(target) in {"transaction.atomic", "atomic", "db.transaction.atomic", "django.db.transaction.atomic"}


def _orm_write(call: ast.Call) -> bool:
    """A call that writes rows: a manager's create/update/delete, or a model's save() or delete()."""
    if not isinstance(call.func, ast.Attribute):
        return False
    method = call.func.attr
    receiver = dotted(call.func.value).lower()
    if method in {"save", "delete"}:
        if call.args:  # a model's save() and delete() take keywords only: this is a queue's, a cache's...
            return False
        return not any(
            word in receiver for word in ("form", "serializer", "cache", "session", "storage", "redis", "super")
        )
    if method in ORM_WRITES:
        chain = dotted(call.func)
        return ".objects" in chain or ".filter(" in chain or ".exclude(" in chain or ".all(" in chain
    return False


def _has_logic(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """More than one statement (a docstring aside): a function that only raises, returns or delegates is no
    business logic of its own for TEST-2."""
    body = node.body[1:] if node.body and isinstance(node.body[0], ast.Expr) and isinstance(
        node.body[0].value, ast.Constant) else node.body  # fmt: skip
    return len(body) > 1 or any(
        isinstance(statement, ast.If | ast.For | ast.While | ast.With | ast.Try) for statement in body
    )


def _bulk_only(node: ast.AST) -> bool:
    """Every write of the function is a bulk operation: a batch of independent rows (an index, a sync)."""
    methods = [
        call.func.attr
        for call in ast.walk(node)
        if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and _orm_write(call)
    ]
    return bool(methods) and all(method.startswith("bulk_") for method in methods)


def _terminates(body: list[ast.stmt]) -> bool:
    if not body:
        return False
    last = body[-1]
    if isinstance(last, ast.Return | ast.Raise | ast.Continue | ast.Break):
        return True
    return isinstance(last, ast.If) and _terminates(last.body) and _terminates(last.orelse)


# the ModelAdmin methods that Django's admin calls inside `transaction.atomic()` (changeform_view, delete_view)
ADMIN_ATOMIC = frozenset(
    {"save_model", "save_related", "save_formset", "delete_model", "response_add", "response_change"}
)
ADMIN_BASES = ("ModelAdmin", "InlineModelAdmin", "StackedInline", "TabularInline")
CREATES = frozenset({"create", "get_or_create", "update_or_create"})


def _writes_in(node: ast.AST, seen: set[str]) -> int:
    """Writes a statement makes; saving or deleting one object twice counts once: it is one row, and so is
    a `save()` of the object a `create()` just made (`row = M.objects.create(...)`, then `row.save()`)."""
    if (
        isinstance(node, ast.Assign)
        and isinstance(node.value, ast.Call)
        and isinstance(node.value.func, ast.Attribute)
        and node.value.func.attr in CREATES
        and _orm_write(node.value)
    ):
        for target in node.targets:
            first = target.elts[0] if isinstance(target, ast.Tuple) and target.elts else target
            if isinstance(first, ast.Name):
                seen.add(first.id)
        return 1
    count = 0
    for inner in ast.walk(node):
        if isinstance(inner, ast.Call) and _orm_write(inner):
            if isinstance(inner.func, ast.Attribute) and inner.func.attr in {"save", "delete"}:
                receiver = dotted(inner.func.value)
                if receiver in seen:
                    continue
                seen.add(receiver)
            count += 1
    return count


def _count_writes(body: list[ast.stmt], seen: set[str] | None = None) -> int:
    """The most writes on one path through the statements: `if` branches and early returns are paths apart."""
    seen = set() if seen is None else seen
    if not body:
        return 0
    first, rest = body[0], body[1:]
    if isinstance(first, ast.If):
        paths = []
        for branch in (first.body, first.orelse):
            branch_seen = set(seen)
            here = _count_writes(branch, branch_seen)
            paths.append(here if _terminates(branch) else here + _count_writes(rest, branch_seen))
        return max(paths)
    if isinstance(first, ast.For | ast.While | ast.AsyncFor):
        # a loop that writes one row per item makes independent writes, not an invariant: its body counts once
        return _count_writes(first.body, set(seen)) + _count_writes(rest, seen)
    if isinstance(first, ast.With | ast.AsyncWith):
        if any(_is_atomic(item.context_expr) for item in first.items):
            return _count_writes(rest, seen)
        return _count_writes([*first.body, *rest], seen)
    if isinstance(first, ast.Try):
        return _count_writes([*first.body, *first.finalbody, *rest], seen)
    if isinstance(first, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return _count_writes(rest, seen)
    here = _writes_in(first, seen)
    return here + (0 if isinstance(first, ast.Return | ast.Raise) else _count_writes(rest, seen))


def _own_nodes(node: ast.AST) -> Iterator[ast.AST]:
    """Every node inside a function, but not inside the functions, lambdas and classes it defines."""
    for child in ast.iter_child_nodes(node):
        yield child
        if not isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
            yield from _own_nodes(child)


def _own_nodes_of(body: list[ast.stmt]) -> Iterator[ast.AST]:
    for statement in body:
        yield statement
        if not isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            yield from _own_nodes(statement)


def _calls(node: ast.AST) -> Iterator[ast.Call]:
    for inner in _own_nodes(node):
        if isinstance(inner, ast.Call):
            yield inner


def _calls_outside_on_commit_of(body: list[ast.stmt]) -> Iterator[ast.Call]:
    for statement in body:
        yield from _calls_outside_on_commit(statement)


def _calls_outside_on_commit(node: ast.AST) -> Iterator[ast.Call]:
    """The calls a statement makes now: not those handed to `on_commit()`, nor those of inner functions."""
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
        return
    if isinstance(node, ast.Call):
        if dotted(node.func).endswith("on_commit"):
            return
        yield node
    for child in ast.iter_child_nodes(node):
        yield from _calls_outside_on_commit(child)


# a function that names the caller or its tenant scopes its queries (or hands them a scope): no ARCH-6 fetch
SCOPE_WORDS = re.compile(
    r"request\.(user|auth)|\b(user|owner|tenant|organization|organisation|account|team|workspace)\b"
)  # whole words: a `user_id` from the URL is the row asked for, not the caller


def _fetches_by_id(call: ast.Call, chain: str, ids: set[str]) -> bool:
    """`Model.objects.get(pk=order_id)`, `.filter(id=order_id)`, `get_object_or_404(Model, pk=order_id)`."""
    if not ids:
        return False
    fetching = chain.endswith((".get", ".filter", ".get_or_none", ".first")) and ".objects" in chain
    if not fetching and chain not in {"get_object_or_404", "get_list_or_404", "shortcuts.get_object_or_404"}:
        return False
    return bool(_id_used(call, ids))


def _id_used(call: ast.Call, ids: set[str]) -> str:
    for keyword in call.keywords:
        if isinstance(keyword.value, ast.Name) and keyword.value.id in ids:
            return keyword.value.id
    return ""


def _mentions_actor(call: ast.Call) -> bool:
    for value in [*call.args, *(keyword.value for keyword in call.keywords)]:
        for inner in ast.walk(value):
            if dotted(inner) in REQUEST_ACTORS:
                return True
    return False


SMALL_LITERAL = 64  # elements: a literal list this long, written in the code, is a fixed small size


def _small(node: ast.expr, names: frozenset[str] | set[str] = frozenset()) -> bool:
    """An iterable of fixed, small size: a literal, a CONSTANT, a name bound to a literal (`fields = [...]`),
    `range()`, the items of one of those, or `enumerate()` of one of those."""
    if isinstance(node, ast.List | ast.Tuple | ast.Set | ast.Dict | ast.Constant):
        return True
    if isinstance(node, ast.Name) and (node.id.isupper() or node.id in names):
        return True
    if isinstance(node, ast.Attribute) and node.attr.isupper():  # `Model.CHOICES`, `settings.LANGUAGES`
        return True
    if isinstance(node, ast.Call):
        name = dotted(node.func)
        if name in {"range", "zip", "reversed", "sorted", "enumerate", "list", "tuple", "set"} and node.args:
            return name == "range" or _small(node.args[0], names)
        if isinstance(node.func, ast.Attribute) and node.func.attr in {"items", "keys", "values"}:
            return _small(node.func.value, names)
    return False


def _literal_names(body: list[ast.stmt]) -> set[str]:
    """Names assigned a short literal collection in these statements (and never anything else there)."""
    literal: set[str] = set()
    other: set[str] = set()
    for statement in body:
        for node in ast.walk(statement):
            if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                size = (
                    len(node.value.keys if isinstance(node.value, ast.Dict) else node.value.elts)
                    if isinstance(node.value, ast.List | ast.Tuple | ast.Set | ast.Dict)
                    else 0
                )
                for target in targets:
                    if isinstance(target, ast.Name):  # an empty literal is a collection filled later
                        (literal if 0 < size <= SMALL_LITERAL else other).add(target.id)
            elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
                other.add(node.target.id)
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name)
                and node.func.attr in {"append", "extend", "insert", "add", "update", "setdefault"}
            ):
                other.add(node.func.value.id)
    return literal - other


def _bound_names(target: ast.expr) -> set[str]:
    return {name.id for name in ast.walk(target) if isinstance(name, ast.Name)}


def _assigned_names(body: list[ast.stmt]) -> set[str]:
    names: set[str] = set()
    for statement in body:
        for node in ast.walk(statement):
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    names |= _bound_names(target)
            elif isinstance(node, ast.AnnAssign | ast.AugAssign | ast.For | ast.NamedExpr):
                names |= _bound_names(node.target)
            elif isinstance(node, ast.withitem) and node.optional_vars is not None:
                names |= _bound_names(node.optional_vars)
    return names


def _meta(node: ast.ClassDef) -> dict[str, ast.expr]:
    for inner in node.body:
        if isinstance(inner, ast.ClassDef) and inner.name == "Meta":
            values: dict[str, ast.expr] = {}
            for statement in inner.body:
                if isinstance(statement, ast.Assign):
                    for target in statement.targets:
                        if isinstance(target, ast.Name):
                            values[target.id] = statement.value
                elif (
                    isinstance(statement, ast.AnnAssign)
                    and isinstance(statement.target, ast.Name)
                    and statement.value is not None
                ):
                    values[statement.target.id] = statement.value
            return values
    return {}


# --- project-level checks -----------------------------------------------------------------------


def project_checks(facts: list[ModuleFacts], *, app_folder: bool) -> list[Finding]:
    """The checks that look across files: one HTTP wrapper; and on a project, factories, layout and tests."""
    findings = list(_one_http_wrapper(facts))
    if not app_folder:
        findings += _factories(facts) + _test_layout(facts) + _tested_services(facts)
    return findings


def _one_http_wrapper(facts: list[ModuleFacts]) -> Iterator[Finding]:
    importers = [fact for fact in facts if fact.http_imports]
    if len(importers) < 2:
        return
    wrappers = [fact for fact in importers if "http" in PurePosixPath(fact.source.relative).stem.lower()]
    for fact in importers:
        if fact in wrappers:
            continue
        others = len(importers) - 1
        for line, library in fact.http_imports[:1]:
            where = f"the wrapper {wrappers[0].source.relative}" if wrappers else f"{others} other module(s)"
            yield Finding(
                fact.source.relative,
                line,
                "ARCH-5",
                "http-outside-wrapper",
                f"`{library}` is imported here and in {where}: send outbound HTTP through one wrapper.",
            )


def _factories(facts: list[ModuleFacts]) -> list[Finding]:
    covered = {name for fact in facts for name in fact.factory_models}
    return [
        Finding(
            fact.source.relative, line, "TEST-4", "model-factories", f"The model `{name}` has no DjangoModelFactory."
        )
        for fact in facts
        for name, line in fact.models.items()
        if name not in covered
    ]


def _test_layout(facts: list[ModuleFacts]) -> list[Finding]:
    sources = {
        PurePosixPath(fact.source.relative).stem if not fact.source.relative.endswith("__init__.py")
        else PurePosixPath(fact.source.relative).parent.name
        for fact in facts
        if not fact.source.is_test
    }  # fmt: skip
    findings = []
    for fact in facts:
        name = PurePosixPath(fact.source.relative).name
        if fact.source.is_test and name.startswith("test_") and name.endswith(".py"):
            module = name.removeprefix("test_").removesuffix(".py")
            if module not in sources:
                findings.append(
                    Finding(
                        fact.source.relative,
                        1,
                        "TEST-6",
                        "test-layout",
                        f"`{name}` mirrors no source module `{module}.py`: name a test file after the module it tests.",
                    )
                )
    return findings


HTTP_TEST_CLIENTS = frozenset({"client", "api_client", "Client", "APIClient", "TestClient", "AsyncClient"})


def _tested_services(facts: list[ModuleFacts]) -> list[Finding]:
    """A public service function that no test reaches: not named by a test, not called by a service a test
    names (one call deep and on), and not called by a route or view when the tests send requests."""
    tests = [fact for fact in facts if fact.source.is_test]
    if not tests:
        return []
    named = {name for fact in tests for name in fact.names}
    if named & HTTP_TEST_CLIENTS:
        named |= {name for fact in facts if not fact.source.is_test for name in fact.route_calls}
    calls: dict[str, set[str]] = {}
    for fact in facts:
        for service, called in fact.service_calls.items():
            calls.setdefault(service, set()).update(called)
    reached = {name for name in calls if name in named}
    while reached:
        more = {name for service in reached for name in calls.get(service, set())} - named
        named |= more
        reached = {name for name in more if name in calls}
    return [
        Finding(
            fact.source.relative,
            line,
            "TEST-2",
            "untested-services",
            f"No test names the service `{name}` (a test of an endpoint may still run it: for review).",
        )
        for fact in facts
        for name, line in fact.service_functions.items()
        if name not in named
    ]


# --- DJ-5: a naive date or time that reaches storage or a query ---------------------------------------

PRESENTING = frozenset({
    "strftime", "isoformat", "year", "month", "day", "hour", "minute", "second", "microsecond", "weekday",
    "isoweekday", "isocalendar", "date", "time", "timestamp", "ctime", "timetuple", "astimezone",
})  # fmt: skip
# calls whose argument is shown, logged or made aware, never stored as it is
SHOWING = re.compile(
    r"(^|\.)(print|format|strftime|str|repr|len|debug|info|warning|warn|error|exception|critical|log|"
    r"make_aware|localtime|localize|astimezone|echo|write|sleep)$"
)
MAX_FOLLOW = 4  # a value assigned to a name is followed through this many names


def naive_value_kept(tree: ast.Module, line: int, parents: dict[int, ast.AST] | None = None) -> bool:
    """Whether a naive date or time made on `line` can be stored or compared in a query (DJ-5): passed as a
    keyword (a model's field, a filter), assigned to an attribute or an item, returned, or handed to a
    function. A value only shown (`strftime`, `.year`, an f-string), logged, compared in Python or
    made aware is not stored, and is no finding. When the line holds no call this reads, it is kept."""
    parents = parents if parents is not None else _parents(tree)
    calls = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and getattr(node, "lineno", 0) == line and _makes_time(node)
    ]
    if not calls:
        return True
    return any(_kept(call, parents, MAX_FOLLOW) for call in calls)


def _parents(tree: ast.AST) -> dict[int, ast.AST]:
    return {id(child): node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}


def _makes_time(call: ast.Call) -> bool:
    name = dotted(call.func)
    last = name.rsplit(".", 1)[-1]
    return last in {"now", "today", "utcnow", "fromtimestamp", "utcfromtimestamp", "strptime", "combine"} or (
        last in {"datetime", "date"} and bool(call.args)
    )


def _kept(node: ast.AST, parents: dict[int, ast.AST], follow: int) -> bool:
    parent = parents.get(id(node))
    if parent is None or isinstance(parent, ast.Expr | ast.Compare | ast.JoinedStr | ast.FormattedValue):
        return False
    if isinstance(parent, ast.Attribute):  # `now.year`, `now.strftime(...)`, `now.date()`: shown
        if parent.attr in PRESENTING:
            return False
        if parent.attr == "replace":  # `.replace(tzinfo=...)` makes it aware; other replaces keep it naive
            call = parents.get(id(parent))
            if isinstance(call, ast.Call) and any(keyword.arg == "tzinfo" for keyword in call.keywords):
                return False
            return _kept(call, parents, follow) if call is not None else True
        return True
    if isinstance(parent, ast.keyword):
        call = parents.get(id(parent))
        return not (isinstance(call, ast.Call) and SHOWING.search(dotted(call.func)))
    if isinstance(parent, ast.Call):
        return node is parent.func or not SHOWING.search(dotted(parent.func))
    if isinstance(parent, ast.BinOp | ast.UnaryOp | ast.IfExp | ast.BoolOp | ast.Tuple | ast.List | ast.Dict):
        return _kept(parent, parents, follow)
    if isinstance(parent, ast.Assign | ast.AnnAssign | ast.NamedExpr):
        targets = parent.targets if isinstance(parent, ast.Assign) else [parent.target]
        names = [target.id for target in targets if isinstance(target, ast.Name)]
        if len(names) != len(targets):  # an attribute or an item: stored on an object
            return True
        return follow > 0 and any(_name_kept(name, parent, parents, follow - 1) for name in names)
    return True  # returned, yielded, awaited, or anything else: it may be stored


def _name_kept(name: str, assignment: ast.AST, parents: dict[int, ast.AST], follow: int) -> bool:
    scope: ast.AST | None = parents.get(id(assignment))
    while scope is not None and not isinstance(scope, ast.FunctionDef | ast.AsyncFunctionDef | ast.Module):
        scope = parents.get(id(scope))
    if scope is None:
        return True
    line = getattr(assignment, "lineno", 0)
    uses = [
        node
        for node in ast.walk(scope)
        if isinstance(node, ast.Name) and node.id == name and isinstance(node.ctx, ast.Load) and node.lineno >= line
    ]
    return any(_kept(use, parents, follow) for use in uses)
