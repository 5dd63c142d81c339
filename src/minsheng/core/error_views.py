"""Answers for requests no view handled: JSON under /api/, a page for people elsewhere."""

from __future__ import annotations

import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.template import loader
from django.views import defaults

from .errors import CoreError, error_json


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """An unknown address: integrations get the API's error body, people get ``404.html``."""
    if _is_api(request):
        return error_json(CoreError.NOT_FOUND)
    return defaults.page_not_found(request, exception)


# Seconds a client is asked to wait while the database is out of reach (a restart, a failover).
RETRY_AFTER_SECONDS = 5


def server_error(request: HttpRequest) -> HttpResponse:
    """A bug: never Django's bare page, never a traceback; the log keeps the details.

    Not a bug: the database out of reach (restarting, failing over, connections exhausted).
    That is a 503 with Retry-After, so clients and balancers retry instead of reporting a
    fault; Django closes the broken connection after the request and the next request opens
    a new one (``CONN_HEALTH_CHECKS``), so the service recovers without a restart.
    """
    if isinstance(sys.exc_info()[1], OperationalError | InterfaceError):
        if _is_api(request):
            response: HttpResponse = error_json(CoreError.UNAVAILABLE)
        else:
            response = HttpResponse(
                loader.get_template("503.html").render(),
                status=503,
                content_type="text/html; charset=utf-8",
            )
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    if _is_api(request):
        return error_json(CoreError.SERVER_ERROR)
    return defaults.server_error(request)
