"""The periodic sweep without a beat server: a thread in each ``minsheng worker``.

Every ``MINSHENG_SWEEP_SECONDS`` each worker's scheduler tries to take the sweep's lease (a
conditional UPDATE of one ``SweepLease`` row: only one worker moves ``until`` forward per
period, on any number of machines sharing the database), and the winner enqueues
``sweep_deadlines`` unless one is already queued or running. The sweep itself is idempotent,
so an overlap would be harmless; the lease keeps the queue from filling with duplicates.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, connections, transaction
from django.utils import timezone

from .models import SweepLease

logger = logging.getLogger("minsheng.supervision")

LEASE = "sweep_deadlines"
# A sweep reported "running" for longer than this is taken for a dead worker's.
RUNNING_GRACE = timedelta(minutes=10)


def _holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def take_lease(*, seconds: float, now: datetime | None = None, holder: str = "") -> bool:
    """True for exactly one caller per period, whoever else asks at the same time."""
    now = now or timezone.now()
    if not SweepLease.objects.filter(name=LEASE).exists():
        try:
            with transaction.atomic():
                SweepLease.objects.create(name=LEASE, until=now - timedelta(seconds=1))
        except IntegrityError:
            pass  # another worker created it first
    taken = SweepLease.objects.filter(name=LEASE, until__lte=now).update(
        until=now + timedelta(seconds=seconds), holder=holder or _holder()
    )
    return taken == 1


def sweep_waiting(now: datetime | None = None) -> bool:
    """Whether a sweep is already queued, or running (and not abandoned)."""
    if "django_tasks_db" not in settings.TASKS["default"]["BACKEND"]:
        return False
    from django_tasks import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    from .tasks import sweep_deadlines

    now = now or timezone.now()
    results = DBTaskResult.objects.filter(task_path=sweep_deadlines.module_path)
    return (
        results.filter(status=TaskResultStatus.READY).exists()
        or results.filter(
            status=TaskResultStatus.RUNNING, started_at__gte=now - RUNNING_GRACE
        ).exists()
    )


def tick(*, seconds: float, holder: str = "") -> bool:
    """One period: enqueue a sweep if this worker holds the lease and none is waiting."""
    from .tasks import sweep_deadlines

    if not take_lease(seconds=seconds, holder=holder):
        return False
    if sweep_waiting():
        return False
    sweep_deadlines.enqueue()
    return True


def _run(seconds: float, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            tick(seconds=seconds)
        except Exception:  # a database hiccup must not kill the worker's scheduler
            logger.exception("sweep scheduler tick failed")
        finally:
            connections.close_all()  # this thread's connections only
        stop.wait(seconds)


def start(seconds: float | None = None) -> threading.Event | None:
    """Start the scheduler thread (a daemon: it ends with the worker); returns its stop flag.

    ``MINSHENG_SWEEP_SECONDS=0`` turns it off.
    """
    seconds = settings.MINSHENG_SWEEP_SECONDS if seconds is None else seconds
    if seconds <= 0:
        return None
    stop = threading.Event()
    thread = threading.Thread(
        target=_run, args=(seconds, stop), name="minsheng-sweep-scheduler", daemon=True
    )
    thread.start()
    logger.info("deadline sweep scheduled every %s s", seconds)
    return stop
