"""Request guards that must act before Django reads a body."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from .errors import CoreError, error_json


class RequestSizeLimitMiddleware:
    """Refuse a body larger than ``MINSHENG_MAX_REQUEST_BYTES`` by its declared length.

    Django bounds form fields but streams uploaded files to disk whatever their size; this
    stops an oversized upload before a byte of it is read.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > settings.MINSHENG_MAX_REQUEST_BYTES:
            error = CoreError.TOO_LARGE
            if not request.path.startswith("/api/"):
                # A person at a form: a page in their language, and a way back.
                return render(
                    request,
                    "ui/too_large.html",
                    {"max_mb": settings.MINSHENG_MAX_REQUEST_BYTES // (1024 * 1024)},
                    status=error.status,
                )
            return error_json(error, {"max_bytes": settings.MINSHENG_MAX_REQUEST_BYTES})
        return self.get_response(request)
