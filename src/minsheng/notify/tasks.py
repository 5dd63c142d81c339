"""Background tasks of notify (django-tasks, run by ``minsheng worker``)."""

from __future__ import annotations

from django_tasks import task

from . import services


@task()
def deliver_notification(delivery_id: int) -> str:
    """Send one delivery; safe to run twice (the second run finds it claimed or sent)."""
    return services.deliver(delivery_id).status
