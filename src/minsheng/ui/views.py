"""Browser preferences that work without JavaScript: the elder-friendly mode."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from .context_processors import ELDER_COOKIE


def _back(request: HttpRequest) -> str:
    target = request.POST.get("next") or "/"
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return "/"
    return target


@require_POST
def toggle_elder_mode(request: HttpRequest) -> HttpResponse:
    """长辈模式: larger text, higher contrast, simpler layout; remembered for a year."""
    response = HttpResponseRedirect(_back(request))
    if request.COOKIES.get(ELDER_COOKIE) == "1":
        response.delete_cookie(ELDER_COOKIE)
    else:
        response.set_cookie(
            ELDER_COOKIE, "1", max_age=365 * 24 * 3600, samesite="Lax", httponly=True
        )
    return response
