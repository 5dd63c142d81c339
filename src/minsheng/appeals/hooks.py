"""Lifecycle hooks other modules register in their ``AppConfig.ready()``.

The core imports none of the modules that listen (DESIGN.md §9, "modules plug in"), and no
business logic hides in signals: a service calls its hooks explicitly, inside its transaction,
and a hook may only queue work for after commit (``transaction.on_commit``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .models import Appeal

_submitted: list[Callable[[Appeal], None]] = []


def on_submitted(callback: Callable[[Appeal], None]) -> None:
    """Call ``callback(appeal)`` after every intake (受理), inside its transaction."""
    if callback not in _submitted:
        _submitted.append(callback)


def submitted(appeal: Appeal) -> None:
    for callback in _submitted:
        callback(appeal)
