"""Python's garbage collector in a long-lived server process.

A full (generation 2) collection walks every object the collector tracks, and after start-up
and the first requests most of them — modules, URL patterns, compiled templates, translations
— live as long as the process. Walking them cost 60–80 ms of about one request in fifteen on
the console's queue pages (bench/pages.py at 10M appeals: p95 78 ms and max 100 ms with them,
23 and 26 ms without). ``gc.freeze()`` moves every object alive at that moment out of the
collector's sight; newer garbage is still collected as before.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable
from typing import Any

# Requests a process serves before it freezes what it holds: by then the lazily built parts
# (URL resolver, templates, translation catalogues) exist.
WARM_REQUESTS = 20


class FreezeAfterWarmUp:
    """WSGI wrapper: after ``after`` requests, ``gc.freeze()`` once in this process."""

    def __init__(self, app: Callable[..., Iterable[bytes]], after: int = WARM_REQUESTS) -> None:
        self.app = app
        self.after = after
        self.served = 0

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if self.served < self.after:
            self.served += 1  # a race between threads only moves the moment by a request
            if self.served == self.after:
                gc.freeze()
        return self.app(environ, start_response)
