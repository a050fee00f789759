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
        INSTALLED_APPS = ["apps.orders"]
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
