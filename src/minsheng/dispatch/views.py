"""Console fragment of smart dispatch: the categories the model suggests while a call is typed."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from minsheng.appeals import reference
from minsheng.org.models import User

from . import permissions, services

# What the fragment reads of the typed text: enough for the model, bounded for a GET.
MAX_TEXT = 5000


def _territory(raw: str | None) -> object | None:
    if raw and raw.isdigit() and len(raw) < 12:
        return reference.active_territory(int(raw))
    return None


@login_required
@require_GET
def intake_suggestions(request: HttpRequest) -> HttpResponse:
    """The likeliest categories for the title and content typed so far (an htmx fragment)."""
    user = request.user
    if not isinstance(user, User) or not permissions.may_see_suggestions(user):
        raise PermissionDenied
    text = (request.GET.get("title", "") + request.GET.get("content", ""))[:MAX_TEXT]
    territory = _territory(request.GET.get("territory"))
    response = render(
        request,
        "dispatch/console/_suggestions.html",
        {
            "suggestions": services.suggest(text, territory=territory),  # type: ignore[arg-type]
            "model_status": services.model_status(),
            "typed": bool(text.strip()),
        },
    )
    response["Cache-Control"] = "private, no-store"
    return response
