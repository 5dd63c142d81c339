"""Periodic jobs without a beat server: a scheduler thread in each ``minsheng worker``.

Apps register their jobs in ``AppConfig.ready()`` (the core imports none of them). Every
period, each worker's scheduler tries to take the job's lease (a conditional UPDATE of one
``PeriodicLease`` row: one worker per period moves ``until`` forward, however many share the
database) and the winner enqueues the job's task unless a run is already queued or running.
Jobs must be idempotent, so an overlap is harmless; the lease keeps the queue free of copies.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connections, transaction
from django.utils import timezone

from .models import PeriodicLease

logger = logging.getLogger("minsheng.periodic")

# A run reported "running" for longer than this is taken for a dead worker's.
RUNNING_GRACE = timedelta(minutes=10)
# How often the scheduler wakes up to look at its jobs.
TICK_SECONDS = 5.0


@dataclass(frozen=True)
class Job:
    name: str
    task: Any  # a django-tasks Task
    every: Callable[[], float]  # seconds between runs, read when used; 0 or less: off


_jobs: dict[str, Job] = {}


def register(name: str, task: Any, every: Callable[[], float]) -> None:
    """Run ``task`` every ``every()`` seconds on some worker (called from ``ready()``)."""
    _jobs[name] = Job(name=name, task=task, every=every)


def jobs() -> list[Job]:
    return list(_jobs.values())


def _holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def take_lease(name: str, *, seconds: float, now: datetime | None = None, holder: str = "") -> bool:
    """True for exactly one caller per period, whoever else asks at the same time."""
    now = now or timezone.now()
    if not PeriodicLease.objects.filter(name=name).exists():
        try:
            with transaction.atomic():
                PeriodicLease.objects.create(name=name, until=now - timedelta(seconds=1))
        except IntegrityError:
            pass  # another worker created it first
    taken = PeriodicLease.objects.filter(name=name, until__lte=now).update(
        until=now + timedelta(seconds=seconds), holder=holder or _holder()
    )
    return taken == 1


def run_waiting(task: Any, now: datetime | None = None) -> bool:
    """Whether a run of ``task`` is already queued, or running (and not abandoned)."""
    if "django_tasks_db" not in settings.TASKS["default"]["BACKEND"]:
        return False
    from django_tasks import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    now = now or timezone.now()
    results = DBTaskResult.objects.filter(task_path=task.module_path)
    return (
        results.filter(status=TaskResultStatus.READY).exists()
        or results.filter(
            status=TaskResultStatus.RUNNING, started_at__gte=now - RUNNING_GRACE
        ).exists()
    )


def tick(job: Job, *, holder: str = "", now: datetime | None = None) -> bool:
    """One look at ``job``: enqueue a run if this worker takes the lease and none is waiting."""
    seconds = job.every()
    if seconds <= 0 or not take_lease(job.name, seconds=seconds, holder=holder, now=now):
        return False
    if run_waiting(job.task, now=now):
        return False
    job.task.enqueue()
    return True


def _run(stop: threading.Event) -> None:
    while not stop.is_set():
        for job in jobs():
            try:
                tick(job)
            except Exception:  # a database hiccup must not kill the worker's scheduler
                logger.exception("periodic job %s: tick failed", job.name)
        connections.close_all()  # this thread's connections only
        stop.wait(TICK_SECONDS)


def start() -> threading.Event | None:
    """Start the scheduler thread (a daemon: it ends with the worker); returns its stop flag."""
    if not any(job.every() > 0 for job in jobs()):
        return None
    stop = threading.Event()
    thread = threading.Thread(target=_run, args=(stop,), name="minsheng-periodic", daemon=True)
    thread.start()
    for job in jobs():
        logger.info("periodic job %s every %s s", job.name, job.every())
    return stop
