"""Answers for requests no view handled: JSON under /api/, a page for people elsewhere."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views import defaults

from .errors import CoreError, error_json


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """An unknown address: integrations get the API's error body, people get ``404.html``."""
    if _is_api(request):
        return error_json(CoreError.NOT_FOUND)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    """A bug: never Django's bare page, never a traceback; the log keeps the details."""
    if _is_api(request):
        return error_json(CoreError.SERVER_ERROR)
    return defaults.server_error(request)
