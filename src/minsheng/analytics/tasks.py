"""Background work of analytics, run by ``minsheng worker``."""

from __future__ import annotations

from typing import Any

from django_tasks import task

from . import export_jobs
from .rollups import refresh_rollups


@task()
def refresh_rollups_task(full: bool = False) -> dict[str, Any]:
    """Bring the daily rollups up to date (the scheduler enqueues it every few minutes)."""
    result = refresh_rollups(full=full)
    return {
        "days": result.days,
        "events": result.events,
        "high_event_id": result.high_event_id,
        "gaps": result.gaps,
        "full": result.full,
    }


@task()
def run_export_jobs_task() -> dict[str, int]:
    """Write the queued background exports, one at a time, until none is left."""
    return {"ran": export_jobs.run_pending()}


@task()
def expire_exports_task() -> dict[str, int]:
    """Delete background exports older than ``MINSHENG_EXPORT_KEEP_DAYS``."""
    return export_jobs.expire()
