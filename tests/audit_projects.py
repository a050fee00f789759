"""Small Django projects written into a temporary folder, for the audit's tests: one clean, and what breaks it."""

import sys
import textwrap
from pathlib import Path

CLEAN = {
    "manage.py": """
        import os
        import sys

        if __name__ == "__main__":
            os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings")
            from django.core.management import execute_from_command_line

            execute_from_command_line(sys.argv)
    """,
    "pyproject.toml": """
        [project]
        name = "shop"
        version = "1"
        requires-python = ">=3.12"
        dependencies = ["django", "django-ninja", "pytest-django", "factory-boy"]
    """,
    "uv.lock": "version = 1\n",
    "shop/__init__.py": "",
    "shop/settings.py": """
        SECRET_KEY = "test"  # noqa: S105 - a test project
        INSTALLED_APPS = ["django.contrib.contenttypes", "apps.orders"]
        DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
        ROOT_URLCONF = "shop.urls"
        USE_TZ = True
        DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
    """,
    "shop/urls.py": """
        from django.urls import path

        from apps.orders.api import api

        urlpatterns = [path("", api.urls)]
    """,
    "apps/__init__.py": "",
    "apps/orders/__init__.py": "",
    "apps/orders/models.py": """
        from django.db import models


        class Order(models.Model):
            number = models.CharField(max_length=20)
            created_at = models.DateTimeField(auto_now_add=True)
            updated_at = models.DateTimeField(auto_now=True)
    """,
    "apps/orders/services.py": """
        from .models import Order


        def order_numbers() -> list[str]:
            return list(Order.objects.values_list("number", flat=True))
    """,
    "apps/orders/api.py": """
        from django.http import HttpRequest
        from ninja import NinjaAPI, Router, Schema

        from . import services


        class NumbersOut(Schema):
            numbers: list[str]


        router = Router()


        @router.get("/orders", response=NumbersOut)
        def list_numbers(request: HttpRequest) -> dict[str, list[str]]:
            return {"numbers": services.order_numbers()}


        api = NinjaAPI(urls_namespace="orders")
        api.add_router("/api/v1/", router)
    """,
    "tests/__init__.py": "",
    "tests/orders/__init__.py": "",
    "tests/orders/factories.py": """
        from factory.django import DjangoModelFactory

        from apps.orders.models import Order


        class OrderFactory(DjangoModelFactory[Order]):
            class Meta:
                model = Order
    """,
    "tests/orders/test_services.py": """
        from apps.orders.services import order_numbers


        def test_order_numbers_is_a_list() -> None:
            assert isinstance(order_numbers, object)
    """,
}


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text).lstrip("\n"))
    return root


def clean_project(root: Path, **changes: str) -> Path:
    """The clean project, with files replaced or added: `changes` maps a path (with `__` for `/`) to its text."""
    files = dict(CLEAN)
    files.update({name.replace("__", "/").replace("_py", ".py"): text for name, text in changes.items()})
    return write(root, files)


PYTHON = sys.executable


WITH_TESTS = {
    "pyproject.toml": """
        [project]
        name = "shop"
        version = "1"
        requires-python = ">=3.12"
        dependencies = ["django", "pytest-django", "factory-boy", "httpx", "respx"]

        [tool.pytest.ini_options]
        DJANGO_SETTINGS_MODULE = "shop.settings"
    """,
    "shop/urls.py": "urlpatterns: list[object] = []\n",
    "apps/orders/api.py": "",
    "apps/orders/models.py": """
        from django.db import models


        class Customer(models.Model):
            name = models.CharField(max_length=20)
            created_at = models.DateTimeField(auto_now_add=True)
            updated_at = models.DateTimeField(auto_now=True)


        class Order(models.Model):
            number = models.CharField(max_length=20)
            customer = models.ForeignKey(Customer, on_delete=models.CASCADE)
            created_at = models.DateTimeField(auto_now_add=True)
            updated_at = models.DateTimeField(auto_now=True)
    """,
    "apps/orders/services.py": """
        import httpx
        from django.db import transaction

        from .models import Order


        def customer_names() -> list[str]:
            return [order.customer.name for order in Order.objects.all()]


        def customer_name(order_id: int) -> str:
            return Order.objects.get(pk=order_id).customer.name


        def confirm(order_id: int) -> None:
            with transaction.atomic():
                order = Order.objects.select_for_update().get(pk=order_id)
                httpx.post("https://shipping.test/orders", json={"number": order.number}, timeout=5)
    """,
    "tests/orders/factories.py": """
        from factory import Sequence, SubFactory
        from factory.django import DjangoModelFactory

        from apps.orders.models import Customer, Order


        class CustomerFactory(DjangoModelFactory[Customer]):
            class Meta:
                model = Customer

            name = Sequence(lambda n: f"customer {n}")


        class OrderFactory(DjangoModelFactory[Order]):
            class Meta:
                model = Order

            number = Sequence(lambda n: f"order {n}")
            customer = SubFactory(CustomerFactory)
    """,
    "tests/orders/test_services.py": """
        import httpx
        import pytest
        import respx

        from apps.orders import services

        from .factories import OrderFactory

        pytestmark = pytest.mark.django_db


        def test_customer_names_loads_each_customer() -> None:
            OrderFactory.create_batch(3)
            assert len(services.customer_names()) == 3


        def test_one_order_at_a_time_is_no_n_plus_one() -> None:
            first, second = OrderFactory.create_batch(2)
            assert services.customer_name(first.pk) != services.customer_name(second.pk)


        @respx.mock
        def test_confirm_tells_the_shipper() -> None:
            route = respx.post("https://shipping.test/orders").mock(return_value=httpx.Response(200))
            services.confirm(OrderFactory().pk)
            assert route.called


        @respx.mock
        def test_a_call_inside_the_test_cases_own_transaction_is_no_finding() -> None:
            respx.get("https://shipping.test/health").mock(return_value=httpx.Response(200))
            assert httpx.get("https://shipping.test/health", timeout=5).status_code == 200


        @pytest.mark.skip(reason="waiting for the shipping sandbox")
        def test_a_refund() -> None:
            assert services.customer_names() == []
    """,
}


def project_with_tests(root: Path) -> Path:
    """The clean project, with a test suite that runs an N+1, a call inside a transaction, and a skip."""
    return write(root, {**CLEAN, **WITH_TESTS})
