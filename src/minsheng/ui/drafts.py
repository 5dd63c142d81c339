"""Keep a long form across an expired login: the hotline agent's typing is never lost.

An agent may spend minutes on a call before pressing "register"; if the session expired
meanwhile, ``login_required`` would send the POST to the login page and drop it. Views wrapped
with :func:`login_required_keeping_post` stash that POST in the (new, anonymous) session
instead; Django's ``login()`` keeps an anonymous session's data when it cycles the key, and the
view takes the stash back with :func:`take` to show the form filled in, to be checked and sent
again (with the same submission key, so a form that did get through is not registered twice).
Uploaded files are not kept: the browser still holds them, and the page asks for them again.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, QueryDict

from minsheng.core import ratelimit
from minsheng.core.errors import DomainError

_SESSION_KEY = "ui.kept_post"
_MAX_BYTES = 64 * 1024  # a hotline form is a few KB; more is not a form we keep
_DROPPED = {"csrfmiddlewaretoken"}


def login_required_keeping_post(
    view: Callable[..., HttpResponse],
) -> Callable[..., HttpResponse]:
    """``login_required`` that keeps a logged-out POST for the same page after login."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.user.is_authenticated:
            return view(request, *args, **kwargs)
        if request.method == "POST":
            _keep(request)
        return redirect_to_login(request.get_full_path())

    return wrapper


def _keep(request: HttpRequest) -> None:
    try:  # anyone can reach a logged-out POST: bound how many sessions it may fill
        ratelimit.hit("kept-post", ratelimit.client_address(request), limit=20)
    except DomainError:
        return
    fields = {k: v for k, v in request.POST.lists() if k not in _DROPPED}
    if sum(len(k) + sum(len(v) for v in vs) for k, vs in fields.items()) > _MAX_BYTES:
        return
    request.session[_SESSION_KEY] = {"path": request.path, "fields": fields}


def take(request: HttpRequest) -> QueryDict | None:
    """The POST kept for this page, once; None when there is none."""
    kept = request.session.get(_SESSION_KEY)
    if not kept or kept.get("path") != request.path:
        return None
    del request.session[_SESSION_KEY]
    data = QueryDict(mutable=True)
    for key, values in kept["fields"].items():
        data.setlist(key, values)
    return data
