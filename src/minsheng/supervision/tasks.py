"""Background tasks of supervision (django-tasks, run by ``minsheng worker``)."""

from __future__ import annotations

from django_tasks import task

from . import services


@task()
def sweep_deadlines() -> dict[str, int]:
    """One deadline sweep; the worker's scheduler enqueues it every MINSHENG_SWEEP_SECONDS."""
    return services.sweep().as_dict()
