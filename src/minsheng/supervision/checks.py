"""Start-up checks of the supervision settings: a bad value stops `minsheng serve` with a
clear message, instead of every deadline sweep failing later in the worker's log."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks

from .deadlines import remaining_share


@checks.register(checks.Tags.compatibility)
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    errors: list[checks.CheckMessage] = []
    try:
        remaining_share(settings.MINSHENG_WARNING_SHARE)  # the sweep's own rule
    except ValueError as exc:
        errors.append(
            checks.Error(
                f"MINSHENG_WARNING_SHARE: {exc} (the share of a time limit used when the "
                "yellow warning is raised, e.g. 0.75).",
                id="minsheng.supervision.E001",
            )
        )
    if settings.MINSHENG_SUPERVISION_RESPONSE_DAYS < 1:
        errors.append(
            checks.Error(
                "MINSHENG_SUPERVISION_RESPONSE_DAYS must be at least 1 (working days a unit "
                "leader has to answer a supervision order).",
                id="minsheng.supervision.E002",
            )
        )
    return errors
