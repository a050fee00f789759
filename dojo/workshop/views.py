"""The board's page: static HTML whose script reads the API with the lead's token (kept in the URL fragment)."""

from importlib import resources

from django.http import HttpRequest, HttpResponse


def board_page(request: HttpRequest) -> HttpResponse:
    page = resources.files("dojo.workshop").joinpath("board.html").read_text(encoding="utf-8")
    response = HttpResponse(page, content_type="text/html; charset=utf-8")
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"
    return response
