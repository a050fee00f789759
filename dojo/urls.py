"""The harness mounts no routes: each kata's grader names its own URLconf (`@pytest.mark.urls`)."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
