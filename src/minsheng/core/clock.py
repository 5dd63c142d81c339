"""The platform's notion of "now".

Services read time through ``now()`` so the demo seeder can replay a past year through the very
same service functions users call (``replaying(at)``); nothing else may set the clock.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from django.utils import timezone

_frozen: contextvars.ContextVar[datetime | None] = contextvars.ContextVar(
    "minsheng_clock", default=None
)


def now() -> datetime:
    return _frozen.get() or timezone.now()


@contextmanager
def replaying(at: datetime) -> Iterator[None]:
    """Run the block as if it were ``at`` (aware datetime)."""
    if timezone.is_naive(at):
        raise ValueError("replaying() needs an aware datetime")
    token = _frozen.set(at)
    try:
        yield
    finally:
        _frozen.reset(token)
