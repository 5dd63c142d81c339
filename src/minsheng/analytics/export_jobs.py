"""Queue exports too large for a request (导出任务): create, claim, run, expire.

A request for a queue of at most ``MINSHENG_EXPORT_INLINE_ROWS`` appeals gets the file at once;
a larger one is offered an ``ExportJob`` (created by a POST: a GET never makes one);
``minsheng worker`` claims queued jobs one at a time (``SKIP LOCKED`` on
PostgreSQL, a conditional UPDATE everywhere, so two workers never run one job), writes the file
under ``DATA_DIR/exports/`` with the owner's scope and masking as they are then, and renames it
into place only when it is complete. Housekeeping deletes jobs and files after
``MINSHENG_EXPORT_KEEP_DAYS``.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import secrets
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.db import connection, transaction
from django.utils.translation import gettext_noop

from minsheng.appeals import selectors as appeal_selectors
from minsheng.core import audit, clock
from minsheng.org.models import User
from minsheng.org.selectors import posts_of

from . import exports
from .models import ExportJob, ExportStatus

logger = logging.getLogger("minsheng.analytics.exports")

# A job "running" this long belongs to a worker that died (a million rows take minutes).
STALE_RUNNING = timedelta(hours=6)
# Stored untranslated, shown translated (the page runs ``gettext`` on it).
LOST_ACCESS = gettext_noop("You no longer have access to the queue, so the export was not made.")
FAILED = gettext_noop("The export failed; please try again or ask an administrator.")
ABANDONED = gettext_noop("The worker writing this export stopped; please export again.")
TOO_MANY_ROWS = gettext_noop(
    "The queue holds more appeals than one sheet can (1,048,575); narrow the filters, for "
    "example the period, and export again."
)


def export_dir() -> Path:
    return Path(settings.DATA_DIR) / "exports"


# ---------------------------------------------------------------- the filter, stored


def filters_to_json(filters: appeal_selectors.QueueFilter) -> dict[str, Any]:
    data = dataclasses.asdict(filters)
    for name in ("received_from", "received_to"):
        if data[name] is not None:
            data[name] = data[name].isoformat()
    return data


def filters_from_json(data: dict[str, Any]) -> appeal_selectors.QueueFilter:
    known = {f.name for f in dataclasses.fields(appeal_selectors.QueueFilter)}
    values = {key: value for key, value in data.items() if key in known}
    for name in ("received_from", "received_to"):
        if values.get(name):
            values[name] = datetime.fromisoformat(values[name])
    return appeal_selectors.QueueFilter(**values)


# ---------------------------------------------------------------- in the request


def may_export(user: User) -> bool:
    """Anyone with a post reads (their scope of) the queue, so may export it."""
    return bool(posts_of(user))


def fits_inline(owner: User, filters: appeal_selectors.QueueFilter) -> bool:
    """Whether the queue holds at most ``MINSHENG_EXPORT_INLINE_ROWS`` appeals: small enough to
    write in the request. Reads at most that many ids, through the queue's own selector."""
    limit = max(settings.MINSHENG_EXPORT_INLINE_ROWS, 0)
    queue = appeal_selectors.queue_queryset(owner, filters)
    return len(queue.values_list("pk", flat=True)[: limit + 1]) <= limit


@dataclass
class InlineExport:
    """A small queue's file, ready to send."""

    file: IO[bytes]
    rows: int


def export_inline(
    *, owner: User, filters: appeal_selectors.QueueFilter, query: str = ""
) -> InlineExport:
    """The queue's xlsx now, audited (callers check ``fits_inline`` first)."""
    out = exports.spooled()
    rows = exports.write_queue(owner, filters, out)
    out.seek(0)
    with transaction.atomic():
        audit.record(
            actor=owner,
            action="analytics.export_queue",
            target_type="appeals.appeal",
            data={"rows": rows, "query": query[:500]},
        )
    return InlineExport(file=out, rows=rows)


@transaction.atomic
def create_job(*, owner: User, filters: appeal_selectors.QueueFilter, query: str = "") -> ExportJob:
    """A queued job, or the owner's same export still waiting (a reload makes no second one)."""
    data = filters_to_json(filters)
    pending = ExportJob.objects.filter(
        owner=owner, status__in=(ExportStatus.QUEUED, ExportStatus.RUNNING)
    )
    for job in pending:
        if job.filters == data:
            return job
    job = ExportJob.objects.create(
        owner=owner, filters=data, query=query[:2000], created_at=clock.now()
    )
    transaction.on_commit(_wake_worker)
    return job


def _wake_worker() -> None:
    """Start a run now rather than at the next periodic tick (a no-op if one is waiting)."""
    from minsheng.core import periodic

    from .tasks import run_export_jobs_task

    if not periodic.run_waiting(run_export_jobs_task):
        run_export_jobs_task.enqueue()


def jobs_of(owner: User, limit: int = 50) -> list[ExportJob]:
    return list(ExportJob.objects.filter(owner=owner).order_by("-pk")[:limit])


@transaction.atomic
def open_download(*, job_id: int, actor: User) -> tuple[ExportJob, IO[bytes]] | None:
    """The owner's finished file, opened, with an audit record; None for anyone else."""
    job = ExportJob.objects.filter(pk=job_id, owner=actor, status=ExportStatus.DONE).first()
    if job is None or not job.file:
        return None
    try:
        handle = (Path(settings.DATA_DIR) / job.file).open("rb")
    except FileNotFoundError:
        return None
    audit.record(
        actor=actor,
        action="analytics.export_download",
        target=job,
        data={"rows": job.row_count, "query": job.query[:500]},
    )
    return job, handle


# ---------------------------------------------------------------- in the worker


def claim_next(now: datetime | None = None) -> ExportJob | None:
    """Mark the oldest queued job running and return it; None when there is none.

    ``SKIP LOCKED`` lets concurrent workers on PostgreSQL pass over a job another is claiming;
    the conditional UPDATE makes the claim exclusive on every database (SQLite has one writer).
    """
    now = now or clock.now()
    while True:
        with transaction.atomic():
            queued = ExportJob.objects.filter(status=ExportStatus.QUEUED).order_by("pk")
            if connection.features.has_select_for_update_skip_locked:
                queued = queued.select_for_update(skip_locked=True)
            job = queued.first()
            if job is None:
                return None
            taken = ExportJob.objects.filter(pk=job.pk, status=ExportStatus.QUEUED).update(
                status=ExportStatus.RUNNING, started_at=now
            )
        if taken:
            job.status, job.started_at = ExportStatus.RUNNING, now
            return job


def _finish(job: ExportJob, **fields: Any) -> bool:
    """Settle a running job; False if it is no longer running (expired meanwhile)."""
    fields.setdefault("finished_at", clock.now())
    done = ExportJob.objects.filter(pk=job.pk, status=ExportStatus.RUNNING).update(**fields)
    for name, value in fields.items():
        setattr(job, name, value)
    return done == 1


def _fail(job: ExportJob, error: str) -> ExportJob:
    _finish(job, status=ExportStatus.FAILED, error=error)
    return job


def run_job(job: ExportJob) -> ExportJob:
    """Write a claimed job's file as its owner would see the queue now.

    The owner is read again: someone deactivated or without any post since asking gets no
    file. The file is written under a temporary name and renamed when complete.
    """
    owner = User.objects.filter(pk=job.owner_id, is_active=True).first()
    if owner is None or not may_export(owner):
        return _fail(job, LOST_ACCESS)
    final = export_dir() / f"queue-{job.pk}-{secrets.token_hex(8)}.xlsx"
    part = final.with_name(final.name + ".part")
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        # XlsxWriter spools the sheet next to the file (the data volume has room for it), in a
        # directory removed however the writing ends.
        with (
            tempfile.TemporaryDirectory(dir=final.parent, prefix=".spool-") as spool,
            part.open("wb") as out,
        ):
            rows = exports.write_queue(
                owner, filters_from_json(job.filters), out, tmpdir=Path(spool)
            )
        os.replace(part, final)
    except exports.TooManyRows:
        part.unlink(missing_ok=True)
        return _fail(job, TOO_MANY_ROWS)
    except Exception:
        logger.exception("export %s failed", job.pk)
        part.unlink(missing_ok=True)
        final.unlink(missing_ok=True)
        return _fail(job, FAILED)
    relative = final.relative_to(Path(settings.DATA_DIR)).as_posix()
    if not _finish(job, status=ExportStatus.DONE, file=relative, row_count=rows):
        final.unlink(missing_ok=True)  # expired while it ran: nobody will fetch it
    return job


def run_pending(limit: int | None = None) -> int:
    """Claim and run queued jobs one at a time until none is left (or ``limit`` ran)."""
    count = 0
    while limit is None or count < limit:
        job = claim_next()
        if job is None:
            break
        run_job(job)
        count += 1
    return count


# ---------------------------------------------------------------- housekeeping


def expire(now: datetime | None = None) -> dict[str, int]:
    """Delete jobs (and their files) older than ``MINSHENG_EXPORT_KEEP_DAYS``; settle jobs a dead
    worker left running; remove half-written files such a worker left behind."""
    now = now or clock.now()
    abandoned = ExportJob.objects.filter(
        status=ExportStatus.RUNNING, started_at__lt=now - STALE_RUNNING
    ).update(status=ExportStatus.FAILED, error=ABANDONED, finished_at=now)
    old = ExportJob.objects.filter(
        created_at__lt=now - timedelta(days=settings.MINSHENG_EXPORT_KEEP_DAYS)
    ).exclude(status=ExportStatus.RUNNING)
    files = 0
    deleted = 0
    for job in old.only("pk", "file"):
        if job.file:
            path = Path(settings.DATA_DIR) / job.file
            if path.exists():
                path.unlink()
                files += 1
        deleted += ExportJob.objects.filter(pk=job.pk).delete()[0]
    directory = export_dir()
    if directory.is_dir():
        cutoff = (now - STALE_RUNNING).timestamp()
        for part in directory.glob("*.part"):
            if part.stat().st_mtime < cutoff:
                part.unlink(missing_ok=True)
                files += 1
        for spool in directory.glob(".spool-*"):  # XlsxWriter's spool of a killed worker
            if spool.is_dir() and spool.stat().st_mtime < cutoff:
                shutil.rmtree(spool, ignore_errors=True)
                files += 1
    return {"jobs": deleted, "files": files, "abandoned": abandoned}
