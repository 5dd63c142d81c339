"""Small display helpers shared by the portal and the console."""

from __future__ import annotations

from datetime import datetime

from django import template
from django.utils import timezone

register = template.Library()

_OPEN = {"received", "dispatched", "in_progress"}


@register.filter
def status_class(status: str) -> str:
    """CSS class of a status badge."""
    return "open" if status in _OPEN else status


@register.filter
def overdue(deadline: datetime | None) -> bool:
    return deadline is not None and deadline < timezone.now()
