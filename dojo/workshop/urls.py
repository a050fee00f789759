"""The board's URLs: its API under /api/v1/, and the board's page."""

from django.urls import path

from dojo import api_errors

from . import views
from .api import api

urlpatterns = [
    path("api/v1/", api_errors.urls(api)),
    path("", views.board_page, name="workshop-board"),
]
