"""Fixed-window rate limits in the Django cache (local memory by default, Redis in production)."""

from __future__ import annotations

import time

from django.core.cache import cache
from django.http import HttpRequest

from .errors import CoreError, DomainError


def client_address(request: HttpRequest) -> str:
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def hit(bucket: str, ident: str, *, limit: int, window_seconds: int = 60) -> None:
    """Count one request; raise ``rate_limited`` (429) past ``limit`` within the window."""
    window = int(time.time() // window_seconds)
    key = f"rl:{bucket}:{ident}:{window}"
    if cache.add(key, 1, timeout=window_seconds + 5):
        count = 1
    else:
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.add(key, 1, timeout=window_seconds + 5)
            count = 1
    if count > limit:
        raise DomainError(CoreError.RATE_LIMITED, {"retry_after_seconds": window_seconds})
