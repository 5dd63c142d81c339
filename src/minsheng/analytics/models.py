"""Daily rollups of the KPI counters, the refresher's bookkeeping, and background exports."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from minsheng.appeals.choices import AppealType, Channel
from minsheng.appeals.models import Category
from minsheng.org.models import OrgUnit


class RollupCounters(models.Model):
    """The additive KPI counters every rollup table keeps (``kpi.COUNTER_FIELDS``)."""

    received = models.PositiveIntegerField(default=0)
    closed = models.PositiveIntegerField(default=0)
    closed_on_time = models.PositiveIntegerField(default=0)
    dispatched = models.PositiveIntegerField(default=0)
    accepted_in_time = models.PositiveIntegerField(default=0)
    rated = models.PositiveIntegerField(default=0)
    satisfied = models.PositiveIntegerField(default=0)
    solved = models.PositiveIntegerField(default=0)
    returned = models.PositiveIntegerField(default=0)
    reopened = models.PositiveIntegerField(default=0)
    ever_closed = models.PositiveIntegerField(default=0)
    handling_days = models.PositiveBigIntegerField(default=0)
    invalid = models.PositiveIntegerField(default=0)
    merged = models.PositiveIntegerField(default=0)

    class Meta:
        abstract = True


class DailyRollup(RollupCounters):
    """日汇总: the KPI counters of the appeals received on one day, by their dimensions now.

    One row per (received day × lead unit × place × category × channel × type) that has
    appeals. Rows are never updated in place: ``analytics.rollups`` deletes a day's rows and
    writes them again from the appeals, so recomputing a day is idempotent. Intake never
    touches this table.
    """

    day = models.DateField(_("day received"))
    lead_unit = models.ForeignKey(
        OrgUnit, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    territory = models.ForeignKey(
        OrgUnit, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    category = models.ForeignKey(
        Category, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    channel = models.CharField(max_length=16, choices=Channel.choices)
    appeal_type = models.CharField(max_length=16, choices=AppealType.choices)

    class Meta:
        verbose_name = _("daily rollup")
        verbose_name_plural = _("daily rollups")
        indexes = [
            models.Index(fields=["day"], name="rollup_day"),
            models.Index(fields=["lead_unit", "day"], name="rollup_unit_day"),
            models.Index(fields=["territory", "day"], name="rollup_territory_day"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.lead_unit_id}/{self.territory_id}/{self.category_id}"


class DailyHandlerRollup(models.Model):
    """日汇总 by handler: per day received, staff member who accepted (签收) or replied (答复),
    lead unit and place now: how many of those appeals they handled, and their outcome now.

    The ranking page's per-handler table read the events of every appeal of the month (over a
    second at a million appeals a year); this table has a few rows per handler and day and is
    recomputed with ``DailyRollup`` (``analytics.rollups``), day by day, from the events.
    An appeal counts once per person who acted on it (``handled`` is a distinct count within
    a row, and an appeal lies in exactly one row per person).
    """

    day = models.DateField(_("day received"))
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    lead_unit = models.ForeignKey(
        OrgUnit, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    territory = models.ForeignKey(
        OrgUnit, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    handled = models.PositiveIntegerField(default=0)
    closed = models.PositiveIntegerField(default=0)
    closed_on_time = models.PositiveIntegerField(default=0)
    rated = models.PositiveIntegerField(default=0)
    satisfied = models.PositiveIntegerField(default=0)
    solved = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("daily handler rollup")
        verbose_name_plural = _("daily handler rollups")
        indexes = [
            models.Index(fields=["day"], name="rollup_handler_day"),
            models.Index(fields=["lead_unit", "day"], name="rollup_handler_unit_day"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.actor_id} {self.lead_unit_id}/{self.territory_id}"


class RollupState(models.Model):
    """The refresher's watermark (one row): events up to ``high_event_id`` have been read.

    ``gaps`` lists event ids below the watermark that were missing when it was taken (a
    transaction still open, or rolled back), with when each was first missed; the refresher
    looks for them again until they appear or the overlap window has passed.
    """

    high_event_id = models.BigIntegerField(null=True, blank=True)
    gaps = models.JSONField(default=dict, blank=True)
    refreshed_at = models.DateTimeField(null=True, blank=True)
    full_refresh_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("rollup state")

    def __str__(self) -> str:
        return f"rollups up to event {self.high_event_id}"


class _NarrowRollup(RollupCounters):
    """The same counters summed over the other dimensions: a few rows per day, however many
    appeals (``DailyRollup`` has about one row per appeal in a big city). Written by the same
    refresh, from ``DailyRollup``, so a narrow table always adds up to the wide one; read when a
    figure needs no other dimension (``analytics.selectors``)."""

    day = models.DateField(_("day received"))

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self._meta.model_name} {self.day}"


class _ByLeadUnit(_NarrowRollup):
    """A narrow table keyed by lead unit (and maybe one more dimension): a unit's scope."""

    lead_unit = models.ForeignKey(
        OrgUnit, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        abstract = True


class DailyUnitRollup(_ByLeadUnit):  # noqa: DJ008 — __str__ from _NarrowRollup
    """日汇总 by lead unit only."""

    class Meta:
        indexes = [
            models.Index(fields=["day"], name="rollup_unit_only_day"),
            models.Index(fields=["lead_unit", "day"], name="rollup_unit_only_unit_day"),
        ]


class DailyPlaceRollup(_NarrowRollup):  # noqa: DJ008 — __str__ from _NarrowRollup
    """日汇总 by place only."""

    territory = models.ForeignKey(
        OrgUnit, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        indexes = [models.Index(fields=["day"], name="rollup_place_only_day")]


class DailyCategoryRollup(_NarrowRollup):  # noqa: DJ008 — __str__ from _NarrowRollup
    """日汇总 by category only."""

    category = models.ForeignKey(
        Category, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        indexes = [models.Index(fields=["day"], name="rollup_category_only_day")]


class DailyKindRollup(_NarrowRollup):  # noqa: DJ008 — __str__ from _NarrowRollup
    """日汇总 by channel and type only (also the day totals: a few dozen rows a day)."""

    channel = models.CharField(max_length=16, choices=Channel.choices)
    appeal_type = models.CharField(max_length=16, choices=AppealType.choices)

    class Meta:
        indexes = [models.Index(fields=["day"], name="rollup_kind_only_day")]


# By lead unit and one more dimension: what a unit's own dashboard groups by (its scope is a
# set of lead units), read through the (lead unit, day) index instead of the city's wide rows.


class DailyUnitKindRollup(_ByLeadUnit):  # noqa: DJ008 — __str__ from _NarrowRollup
    """日汇总 by lead unit, channel and type."""

    channel = models.CharField(max_length=16, choices=Channel.choices)
    appeal_type = models.CharField(max_length=16, choices=AppealType.choices)

    class Meta:
        indexes = [
            models.Index(fields=["day"], name="rollup_unit_kind_day"),
            models.Index(fields=["lead_unit", "day"], name="rollup_unit_kind_unit_day"),
        ]


class DailyUnitCategoryRollup(_ByLeadUnit):  # noqa: DJ008 — __str__ from _NarrowRollup
    """日汇总 by lead unit and category."""

    category = models.ForeignKey(
        Category, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        indexes = [
            models.Index(fields=["day"], name="rollup_unit_cat_day"),
            models.Index(fields=["lead_unit", "day"], name="rollup_unit_cat_unit_day"),
        ]


class DailyUnitPlaceRollup(_ByLeadUnit):  # noqa: DJ008 — __str__ from _NarrowRollup
    """日汇总 by lead unit and place (also a township centre's scope: lead unit or place)."""

    territory = models.ForeignKey(
        OrgUnit, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        indexes = [
            models.Index(fields=["day"], name="rollup_unit_place_day"),
            models.Index(fields=["lead_unit", "day"], name="rollup_unit_place_unit_day"),
            models.Index(fields=["territory", "day"], name="rollup_unit_place_place_day"),
        ]


# Each narrow table and the dimensions (rollup columns) it keeps, smallest first: a reader
# takes the first that keeps every dimension it filters or groups by.
NARROW_ROLLUPS: tuple[tuple[type[_NarrowRollup], tuple[str, ...]], ...] = (
    (DailyKindRollup, ("channel", "appeal_type")),
    (DailyUnitRollup, ("lead_unit_id",)),
    (DailyPlaceRollup, ("territory_id",)),
    (DailyCategoryRollup, ("category_id",)),
    (DailyUnitKindRollup, ("lead_unit_id", "channel", "appeal_type")),
    (DailyUnitCategoryRollup, ("lead_unit_id", "category_id")),
    (DailyUnitPlaceRollup, ("lead_unit_id", "territory_id")),
)


class ExportStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")  # waiting for a worker
    RUNNING = "running", _("Running")  # a worker is writing the file
    DONE = "done", _("Ready")  # the file is there to download
    FAILED = "failed", _("Export failed")  # no file; ``error`` says why


class ExportJob(models.Model):
    """导出任务: a queue export too large for a request, written by a worker for its owner.

    ``filters`` is the queue filter (``appeals.selectors.QueueFilter``) the owner asked for,
    resolved when the job was created; the worker applies it with the owner's scope and masking
    as they are when it runs. ``file`` is relative to the data directory and set only once the
    finished file has its final name, so a half-written file is never served.
    """

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="export_jobs",
        verbose_name=_("owner"),
    )
    filters = models.JSONField(_("queue filter"), default=dict)
    query = models.CharField(_("query string"), max_length=2000, blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=ExportStatus.choices, default=ExportStatus.QUEUED
    )
    row_count = models.PositiveIntegerField(_("rows"), null=True, blank=True)
    file = models.CharField(_("file"), max_length=200, blank=True)
    error = models.TextField(_("error"), blank=True)
    created_at = models.DateTimeField(_("created at"))
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("export job")
        verbose_name_plural = _("export jobs")
        indexes = [
            models.Index(fields=["owner", "-id"], name="export_owner_id"),
            # Workers look for the oldest queued job: a small partial index.
            models.Index(fields=["id"], condition=Q(status="queued"), name="export_queued"),
        ]

    def __str__(self) -> str:
        return f"export {self.pk} ({self.status})"
