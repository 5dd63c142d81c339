"""The bell in the console header: the logged-in user's unread count, read only if shown."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from .services import unread_count


def bell(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    # A callable: the template calls it once where the bell is drawn, so pages without the
    # bell (the citizen portal) run no query at all.
    return {"bell_unread": lambda: unread_count(user)}
