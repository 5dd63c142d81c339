"""Background tasks of smart dispatch (django-tasks, run by ``minsheng worker``)."""

from __future__ import annotations

from django_tasks import task

from . import services


@task()
def auto_dispatch_appeal(appeal_id: int) -> str:
    """Dispatch one newly received appeal if the model is sure enough; safe to run twice
    (the second run finds it no longer waiting)."""
    return services.auto_dispatch(appeal_id)
