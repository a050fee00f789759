"""A body too large is answered in the one error envelope (413), before any view reads it."""

from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse

from dojo.api_errors import error_body


def _too_large() -> HttpResponse:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return JsonResponse(error_body("payload_too_large", f"The body is over {limit:,} bytes."), status=413)


class BodyLimitMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        length = request.META.get("CONTENT_LENGTH") or "0"
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if not length.isdigit() or int(length) > limit:
            return _too_large()
        if request.method in ("POST", "PUT", "PATCH"):
            try:
                request.body  # noqa: B018 - read once here, within the limit, so that a view never meets it
            except RequestDataTooBig:
                return _too_large()
        return self.get_response(request)
