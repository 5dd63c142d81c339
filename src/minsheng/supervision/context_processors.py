"""Whether the console's navigation links to the supervision orders page."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from .selectors import sees_supervision


def nav(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"nav_supervision": lambda: sees_supervision(user)}
