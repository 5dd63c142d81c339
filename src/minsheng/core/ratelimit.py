"""Fixed-window rate limits in the Django cache (local memory by default, Redis in production)."""

from __future__ import annotations

import ipaddress
import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

from .errors import CoreError, DomainError


def client_address(request: HttpRequest) -> str:
    """The citizen's address, the key of per-address limits.

    Behind the trusted proxy (``MINSHENG_BEHIND_PROXY``) every connection comes from the proxy,
    so the address is the ``X-Real-IP`` the proxy sets from its own peer (nginx:
    ``proxy_set_header X-Real-IP $remote_addr``, which replaces whatever a client sent).
    Without the setting the header is ignored: anyone could send one and get a fresh budget
    per request. A header that is not an address falls back to the connection's.
    """
    if settings.MINSHENG_BEHIND_PROXY:
        forwarded = request.META.get("HTTP_X_REAL_IP", "").strip()
        try:
            return str(ipaddress.ip_address(forwarded))
        except ValueError:
            pass
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
