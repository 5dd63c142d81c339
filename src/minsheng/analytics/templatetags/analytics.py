"""``{% load analytics %}``: whether the console shows the statistics link."""

from __future__ import annotations

from typing import Any

from django import template

from minsheng.analytics.selectors import scope_of

register = template.Library()


@register.filter
def may_see_stats(user: Any) -> bool:
    """Roles that read statistics (the user's memberships are read once per request)."""
    return bool(getattr(user, "is_authenticated", False)) and scope_of(user) is not None
