"""What every page needs: the elder-friendly mode chosen in this browser, and the languages."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest

ELDER_COOKIE = "ms_elder"


def ui(request: HttpRequest) -> dict[str, Any]:
    return {
        "elder_mode": request.COOKIES.get(ELDER_COOKIE) == "1",
        "languages": settings.LANGUAGES,
    }
