"""Shared kernel tables: the working-day calendar, the audit log and idempotency records."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class CalendarDay(models.Model):
    """工作日历例外: a date that breaks the Monday–Friday rule.

    Only exceptions are stored: a statutory holiday on a weekday (``is_workday=False``) or a
    make-up working day (调休) on a weekend (``is_workday=True``). Rows are seeded from
    ``chinese-calendar`` for the years it knows and edited by admins for the rest.
    """

    class Source(models.TextChoices):
        SEEDED = "seeded", _("seeded from chinese-calendar")
        ADMIN = "admin", _("entered by an administrator")

    date = models.DateField(_("date"), primary_key=True)
    is_workday = models.BooleanField(_("working day"))
    name = models.CharField(_("name"), max_length=50, blank=True)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.ADMIN)

    class Meta:
        verbose_name = _("calendar exception")
        verbose_name_plural = _("calendar exceptions")
        ordering = ["date"]

    def __str__(self) -> str:
        return f"{self.date} {'班' if self.is_workday else '休'} {self.name}"


class CalendarYear(models.Model):
    """A year whose holidays have been entered (假日安排已发布). Years without a row fall back to
    the Monday–Friday rule, and the platform warns admins instead of failing."""

    year = models.PositiveSmallIntegerField(primary_key=True)
    source = models.CharField(
        max_length=10, choices=CalendarDay.Source.choices, default=CalendarDay.Source.ADMIN
    )

    class Meta:
        verbose_name = _("calendar year")
        verbose_name_plural = _("calendar years")

    def __str__(self) -> str:
        return str(self.year)


class AuditRecord(models.Model):
    """审计日志: append-only, hash-chained record of every change and every reveal.

    ``hash`` = SHA-256 over the previous record's hash and this record's canonical content, so
    editing or deleting any row breaks every hash after it (``minsheng audit verify``).
    """

    at = models.DateTimeField(_("time"))
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    actor_label = models.CharField(max_length=150)
    action = models.CharField(_("action"), max_length=60, db_index=True)
    target_type = models.CharField(max_length=60)
    target_id = models.CharField(max_length=64)
    data = models.JSONField(default=dict)
    # Which of the parallel chains (``AuditHead`` rows) this record extends.
    chain = models.PositiveSmallIntegerField(default=1)
    prev_hash = models.CharField(max_length=64)
    # Not unique, not indexed: nothing looks a record up by its hash (the chain is verified in
    # id order), and the two indexes a unique text column gets on PostgreSQL were a fifth of
    # the footprint of an appeal (bench/generate.py).
    hash = models.CharField(max_length=64)

    class Meta:
        verbose_name = _("audit record")
        verbose_name_plural = _("audit records")
        ordering = ["id"]
        indexes = [
            models.Index(fields=["target_type", "target_id"]),
            models.Index(fields=["chain", "id"], name="audit_chain_id"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.action} {self.target_type}:{self.target_id}"


class AuditHead(models.Model):
    """The last hash of one chain (``id`` = chain number); locking it orders that chain's appends.

    Several chains let concurrent transactions append without queueing behind one row lock
    held until commit; each transaction extends exactly one chain, so they never deadlock.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    last_hash = models.CharField(max_length=64)
    count = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.count} records, last {self.last_hash[:12]}"


class AuditCheckpoint(models.Model):
    """审计日志保留检查点: where ``minsheng audit purge`` cut one chain (``id`` = chain number).

    Records older than the keep period (``MINSHENG_AUDIT_KEEP_DAYS``) may be deleted, but the
    chain must still verify: the checkpoint keeps the hash of the last deleted record and how
    many were deleted, so the first kept record must link to ``last_hash`` and the head's count
    must equal ``count`` plus the kept records. The purge writes an ``audit.purge`` record
    carrying every checkpoint into the chain itself, so a forged checkpoint does not verify.
    """

    id = models.PositiveSmallIntegerField(primary_key=True)
    last_id = models.BigIntegerField()  # the last deleted record's id
    last_hash = models.CharField(max_length=64)  # and its hash
    count = models.BigIntegerField()  # records deleted from this chain, every purge together
    before = models.DateField()  # the purge's cut date (records before it were due)
    purged_at = models.DateTimeField()

    class Meta:
        verbose_name = _("audit checkpoint")
        verbose_name_plural = _("audit checkpoints")

    def __str__(self) -> str:
        return f"chain {self.pk}: {self.count} purged up to #{self.last_id}"


class IdempotencyRecord(models.Model):
    """The first response to a request carrying an ``Idempotency-Key``, replayed on retries."""

    scope = models.CharField(max_length=60)
    key = models.CharField(max_length=128)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(default=0)
    response = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["scope", "key"], name="idempotency_scope_key")
        ]

    def __str__(self) -> str:
        return f"{self.scope}:{self.key}"


class PeriodicLease(models.Model):
    """Which worker may enqueue the next run of a periodic job, until when (one row per job).

    Every ``minsheng worker`` runs a small scheduler (``core/periodic.py``); the one whose
    conditional UPDATE moves ``until`` forward enqueues, the others skip, so any number of
    workers on any number of machines enqueue one run per period.
    """

    name = models.CharField(max_length=40, primary_key=True)
    holder = models.CharField(max_length=100, blank=True)
    until = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} until {self.until:%Y-%m-%d %H:%M:%S}"
