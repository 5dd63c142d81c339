"""What a signed-in staff session may reach before its second factor or a new password.

Called by ``minsheng.core.middleware.StaffSessionMiddleware`` on staff paths only. The answer
is read from the session (no query per request); ``refresh`` re-reads roles and the device
from the database once a minute, when the middleware rewrites the activity time anyway.
"""

from __future__ import annotations

import time
from functools import cache
from typing import Any
from urllib.parse import urlencode

from django.contrib.sessions.backends.base import SessionBase
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django_otp import DEVICE_ID_SESSION_KEY

from minsheng.core.errors import error_json
from minsheng.core.middleware import LAST_ACTIVITY

from .. import passwords
from . import two_factor
from .errors import SecurityError

# Session key: whether the account's roles require the second factor (refreshed each minute).
NEEDS_TWO_FACTOR = "minsheng.2fa_required"


@cache
def _paths() -> tuple[frozenset[str], frozenset[str]]:
    """Pages open before the second factor, and before a new password."""
    before_code = frozenset(
        {
            reverse("console:login"),
            reverse("console:logout"),
            reverse("console:two_factor"),
            reverse("admin:logout"),
        }
    )
    return before_code, before_code | {reverse("console:password_change")}


def refresh(request: HttpRequest) -> None:
    """Re-read what the gate depends on: the roles, and whether the verified device stands."""
    request.session[NEEDS_TWO_FACTOR] = two_factor.required_for(request.user)
    if DEVICE_ID_SESSION_KEY in request.session and not two_factor.session_device_valid(request):
        del request.session[DEVICE_ID_SESSION_KEY]


def refusal(request: HttpRequest, api: bool) -> HttpResponse | None:
    """A redirect (pages) or a 403 (session API) while the session still owes a step."""
    before_code, before_password = _paths()
    if request.session.get(NEEDS_TWO_FACTOR) and not two_factor.is_verified(request):
        if api:
            return error_json(SecurityError.TWO_FACTOR_REQUIRED)
        if request.path in before_code:
            return None
        return _redirect("console:two_factor", request)
    if passwords.password_expired(request.user):  # type: ignore[arg-type]
        if api:
            return error_json(SecurityError.PASSWORD_EXPIRED)
        if request.path in before_password:
            return None
        return _redirect("console:password_change", request)
    return None


def _redirect(name: str, request: HttpRequest) -> HttpResponse:
    url = reverse(name)
    if request.method == "GET":
        url += "?" + urlencode({"next": request.get_full_path()})
    return HttpResponseRedirect(url)


def start_session(session: SessionBase, user: Any) -> None:
    """Stamp a session just logged in outside a request (the test client's ``force_login``)
    the way the middleware stamps one after a login page: activity now, gate state read."""
    session[LAST_ACTIVITY] = int(time.time())
    session[NEEDS_TWO_FACTOR] = two_factor.required_for(user)
