"""Request guards: a body's size before Django reads it; a staff session's idle time."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.models import AnonymousUser
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import ngettext

from . import audit
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


# Session key: when the staff session was last used (epoch seconds), rewritten at most once a
# minute so a page view costs no session write (the pinned query counts of list pages hold).
LAST_ACTIVITY = "minsheng.last_activity"
ACTIVITY_WRITE_SECONDS = 60
# Staff paths; everything else (the portal, tracking, the public API) is never touched.
_STAFF_PREFIXES = ("/console/", "/admin/", "/api/")
_PUBLIC_API_PREFIXES = ("/api/v1/public/", "/api/docs", "/api/openapi.json")


def _is_api(path: str) -> bool:
    return path.startswith("/api/")


class StaffSessionMiddleware:
    """Idle timeout, then the second-factor and password-age gates, for staff sessions.

    A session unused for ``MINSHENG_IDLE_TIMEOUT_MINUTES`` is signed out (audited) and the
    request goes on anonymous, so pages send the user to the login page (with a message, and
    the hotline form's typing kept) and the API answers 401. The gates themselves live in
    ``minsheng.org.security.gate``; this layer only keeps time.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path
        if not path.startswith(_STAFF_PREFIXES) or path.startswith(_PUBLIC_API_PREFIXES):
            return self.get_response(request)
        if settings.SESSION_COOKIE_NAME in request.COOKIES and request.user.is_authenticated:
            refused = self._check(request)
            if refused is not None:
                return refused
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and LAST_ACTIVITY not in request.session:
            # A login happened in this request (its session is written anyway): start the clock.
            self._touch(request)
        return response

    def _check(self, request: HttpRequest) -> HttpResponse | None:
        from minsheng.org.security import gate

        now = int(time.time())
        seen = request.session.get(LAST_ACTIVITY)
        idle_limit = settings.MINSHENG_IDLE_TIMEOUT_MINUTES * 60
        if isinstance(seen, int) and idle_limit > 0 and now - seen > idle_limit:
            self._sign_out(request, minutes=settings.MINSHENG_IDLE_TIMEOUT_MINUTES)
            return None
        if not isinstance(seen, int) or now - seen >= ACTIVITY_WRITE_SECONDS:
            self._touch(request, now)
        refused = gate.refusal(request, api=_is_api(request.path))
        if refused is not None and _is_api(request.path) and "HTTP_AUTHORIZATION" in request.META:
            # An integration's token still works; the unfinished session just does not count.
            request.user = AnonymousUser()
            return None
        return refused

    def _touch(self, request: HttpRequest, now: int | None = None) -> None:
        from minsheng.org.security import gate

        request.session[LAST_ACTIVITY] = now or int(time.time())
        gate.refresh(request)

    def _sign_out(self, request: HttpRequest, minutes: int) -> None:
        user = request.user
        with transaction.atomic():
            audit.record(
                actor=user, action="org.staff.idle_logout", target=user, data={"minutes": minutes}
            )
        logout(request)
        if not _is_api(request.path):
            messages.info(
                request,
                ngettext(
                    "You were signed out after %(minutes)d minute without activity.",
                    "You were signed out after %(minutes)d minutes without activity.",
                    minutes,
                )
                % {"minutes": minutes},
            )
