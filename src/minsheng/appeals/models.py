"""Appeals (诉求) and their reference data, history, extensions and attachments."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from minsheng.org.models import OrgUnit

from .choices import (
    OPEN_STATUSES,
    Action,
    ActorKind,
    AppealType,
    AssignmentRole,
    Channel,
    ExtensionState,
    Rating,
    Status,
    TimeUnit,
    Urgency,
)

# The open appeals: the condition of the partial index below and of the queries it serves.
# PostgreSQL matches it against a query's bound parameters; SQLite cannot (it needs the literal
# values in the statement), so there the queries fall back on the plain indexes.
OPEN = models.Q(status__in=sorted(OPEN_STATUSES))
# 并单 candidates: open appeals, written with a condition that is true of every open appeal
# (a merged appeal is closed as merged) but that no status filter implies. With ``OPEN`` alone
# as its predicate, PostgreSQL took the partial index for a filter of its own in any query of
# one open status — a leader's queue of appeals in progress ANDed the index's 78,000 entries
# with the status index as if independent, expected 450 rows and read 60,000 (70 ms at 10M
# appeals, against 1.6 ms from ``appeal_unit_status_id``).
MERGE_CANDIDATES = OPEN & models.Q(merged_into__isnull=True)


class Category(models.Model):
    """分类: a node of the 2–3 level taxonomy (GB/T 39666-2020 style codes), editable."""

    code = models.CharField(_("code"), max_length=20, unique=True)
    name = models.CharField(_("name"), max_length=60)
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
        verbose_name=_("parent"),
    )
    level = models.PositiveSmallIntegerField(_("level"), default=1, editable=False)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("category")
        verbose_name_plural = _("categories")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name

    def lineage(self) -> list[Category]:
        """This category and its ancestors, nearest first."""
        chain: list[Category] = []
        node: Category | None = self
        while node is not None:
            chain.append(node)
            node = node.parent
        return chain


class TimeLimit(models.Model):
    """办理时限: accept and completion limits for type × category × urgency.

    Blank fields match anything; the most specific row wins (category beats type beats urgency,
    a child category beats its parent).
    """

    appeal_type = models.CharField(_("type"), max_length=20, choices=AppealType.choices, blank=True)
    category = models.ForeignKey(
        Category, null=True, blank=True, on_delete=models.CASCADE, verbose_name=_("category")
    )
    urgency = models.CharField(_("urgency"), max_length=10, choices=Urgency.choices, blank=True)
    accept_amount = models.PositiveIntegerField(_("accept within"))
    accept_unit = models.CharField(max_length=16, choices=TimeUnit.choices)
    complete_amount = models.PositiveIntegerField(_("complete within"))
    complete_unit = models.CharField(max_length=16, choices=TimeUnit.choices)

    class Meta:
        verbose_name = _("time limit")
        verbose_name_plural = _("time limits")

    def __str__(self) -> str:
        return (
            f"{self.appeal_type or '*'}/{self.category or '*'}/{self.urgency or '*'}: "
            f"{self.accept_amount} {self.accept_unit}, {self.complete_amount} {self.complete_unit}"
        )


class DispatchRule(models.Model):
    """派单目录: which unit handles a category in a territory (条 × 块 → 承办单位).

    A blank territory applies city-wide; the rule for the nearest category and the nearest
    enclosing territory wins.
    """

    category = models.ForeignKey(Category, on_delete=models.CASCADE, verbose_name=_("category"))
    territory = models.ForeignKey(
        OrgUnit,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("territory"),
    )
    unit = models.ForeignKey(
        OrgUnit, on_delete=models.PROTECT, related_name="+", verbose_name=_("handling unit")
    )

    class Meta:
        verbose_name = _("dispatch catalogue entry")
        verbose_name_plural = _("dispatch catalogue")
        constraints = [
            models.UniqueConstraint(fields=["category", "territory"], name="dispatch_rule_unique")
        ]

    def __str__(self) -> str:
        return f"{self.category} @ {self.territory or '*'} → {self.unit}"


class Appeal(models.Model):
    """诉求: one matter a citizen raised, from intake to close.

    ``status`` changes only through ``minsheng.appeals.services``; ``version`` guards every write
    so two concurrent transitions cannot both succeed.
    """

    tracking_code = models.CharField(_("tracking code"), max_length=16, unique=True)
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices)
    appeal_type = models.CharField(_("type"), max_length=16, choices=AppealType.choices)
    urgency = models.CharField(
        _("urgency"), max_length=10, choices=Urgency.choices, default=Urgency.NORMAL
    )
    category = models.ForeignKey(
        Category, null=True, blank=True, on_delete=models.PROTECT, verbose_name=_("category")
    )
    territory = models.ForeignKey(
        OrgUnit,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("place"),
    )
    address = models.CharField(_("address"), max_length=200, blank=True)
    latitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    title = models.CharField(_("title"), max_length=100, blank=True)
    content = models.TextField(_("content"))

    citizen_name = models.CharField(_("name"), max_length=50, blank=True)
    citizen_phone = models.CharField(_("phone"), max_length=20, blank=True, db_index=True)
    is_anonymous = models.BooleanField(_("anonymous"), default=False)

    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.RECEIVED
    )
    lead_unit = models.ForeignKey(
        OrgUnit,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("lead unit"),
    )
    intake_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )

    created_at = models.DateTimeField(_("received at"), db_index=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    accept_due_at = models.DateTimeField(_("accept deadline"), null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    due_at = models.DateTimeField(_("deadline"), null=True, blank=True, db_index=True)
    # The completion limit that ``due_at`` was computed from, kept for extensions and resumes.
    limit_amount = models.PositiveIntegerField(null=True, blank=True)
    limit_unit = models.CharField(max_length=16, choices=TimeUnit.choices, blank=True)
    suspended_at = models.DateTimeField(null=True, blank=True)
    replied_at = models.DateTimeField(null=True, blank=True)
    reply = models.TextField(_("reply"), blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    closed_on_time = models.BooleanField(null=True, blank=True)

    rating = models.CharField(_("rating"), max_length=20, choices=Rating.choices, blank=True)
    rating_comment = models.CharField(max_length=500, blank=True)
    solved = models.BooleanField(_("solved"), null=True, blank=True)
    rated_at = models.DateTimeField(null=True, blank=True)
    reopen_count = models.PositiveSmallIntegerField(default=0)
    return_count = models.PositiveSmallIntegerField(default=0)

    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="merged_appeals"
    )
    version = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("appeal")
        verbose_name_plural = _("appeals")
        indexes = [
            models.Index(fields=["status", "-id"], name="appeal_status_id"),
            models.Index(fields=["lead_unit", "status", "-id"], name="appeal_unit_status_id"),
            models.Index(fields=["territory", "-id"], name="appeal_territory_id"),
            # 并单 candidates (dispatch.duplicates): a township's open appeals of the last weeks.
            # Partial: only open appeals are indexed, so each village's entries of the window are
            # a handful and the planner reads them instead of the whole city's window by
            # ``created_at`` (PostgreSQL, 200k appeals: 0.5 ms instead of 7–10 ms).
            models.Index(
                fields=["territory", "created_at"],
                condition=MERGE_CANDIDATES,
                name="appeal_merge_candidates",
            ),
            # The dashboards' snapshots (open now by status, overdue now) within a user's
            # visibility: the counts read only this index (PostgreSQL: index-only scans; SQLite:
            # a covering index, the id being its rowid), one range per status and deadline,
            # instead of visiting each open appeal's row of a big table. Not partial: SQLite
            # cannot match a partial index's IN list against the bound parameters Django sends.
            models.Index(
                fields=["status", "due_at", "lead_unit", "intake_by"],
                include=["id"],
                name="appeal_status_due",
            ),
            # 回访 worklist ("closed, not yet rated" within the callback window): the recent end
            # of the unrated closed appeals, not a count over every closed appeal of the years.
            models.Index(
                fields=["closed_at"],
                condition=models.Q(status="closed", rating=""),
                name="appeal_unrated_closed",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.tracking_code} {self.title or self.content[:20]}"


class AppealAssignment(models.Model):
    """主办/协办: a unit's share in an appeal. The lead unit is also on ``Appeal.lead_unit``."""

    appeal = models.ForeignKey(Appeal, on_delete=models.CASCADE, related_name="assignments")
    unit = models.ForeignKey(OrgUnit, on_delete=models.PROTECT, related_name="+")
    role = models.CharField(max_length=8, choices=AssignmentRole.choices)
    active = models.BooleanField(default=True)
    assigned_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["unit", "active"], name="assignment_unit_active"),
            # A unit's current co-handling shares (协办), the part of its visibility that
            # ``Appeal.lead_unit`` does not hold: a few per cent of the assignments.
            models.Index(
                fields=["unit", "appeal"],
                condition=models.Q(active=True, role="co"),
                name="assignment_active_co",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.appeal_id} {self.role} {self.unit_id}"


class AppealEvent(models.Model):
    """流转记录: one append-only step of an appeal's history; timelines and statistics read it."""

    # No index of its own: ``event_appeal_at`` (appeal, at) starts with it.
    appeal = models.ForeignKey(
        Appeal, on_delete=models.CASCADE, related_name="events", db_index=False
    )
    at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    actor_kind = models.CharField(max_length=8, choices=ActorKind.choices)
    action = models.CharField(max_length=20, choices=Action.choices)
    from_status = models.CharField(max_length=16, choices=Status.choices, blank=True)
    to_status = models.CharField(max_length=16, choices=Status.choices)
    unit = models.ForeignKey(
        OrgUnit, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reason = models.TextField(blank=True)
    accept_due_at = models.DateTimeField(null=True, blank=True)
    due_at = models.DateTimeField(null=True, blank=True)
    data = models.JSONField(default=dict, blank=True)
    # Shown on the citizen's public timeline (no staff names, no internal notes).
    is_public = models.BooleanField(default=False)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["appeal", "at"], name="event_appeal_at")]

    def __str__(self) -> str:
        return f"{self.appeal_id} {self.action} {self.at:%Y-%m-%d %H:%M}"


class ExtensionRequest(models.Model):
    """延期申请: a lead unit asks for more time; the center approves or refuses."""

    appeal = models.ForeignKey(Appeal, on_delete=models.CASCADE, related_name="extensions")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    requested_at = models.DateTimeField()
    amount = models.PositiveIntegerField()
    unit = models.CharField(max_length=16, choices=TimeUnit.choices)
    reason = models.TextField()
    state = models.CharField(
        max_length=10, choices=ExtensionState.choices, default=ExtensionState.PENDING
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["appeal"],
                condition=models.Q(state="pending"),
                name="one_pending_extension",
            )
        ]

    def __str__(self) -> str:
        return f"{self.appeal_id} +{self.amount} {self.unit} ({self.state})"


class Attachment(models.Model):
    """附件: a JPEG, PNG or PDF checked by content; images stored without EXIF/GPS.

    Uploaded first (``appeal`` empty, identified by ``upload_token``), then attached by the
    submission that names the token, so a retried submission never uploads twice.
    """

    appeal = models.ForeignKey(
        Appeal, null=True, blank=True, on_delete=models.CASCADE, related_name="attachments"
    )
    upload_token = models.CharField(max_length=32, unique=True)
    kind = models.CharField(max_length=8)  # jpeg | png | pdf
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    storage_name = models.CharField(max_length=80, unique=True)
    original_name = models.CharField(max_length=200, blank=True)
    uploaded_at = models.DateTimeField()
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")

    def __str__(self) -> str:
        return f"{self.kind} {self.size} B"


class PhoneLoginCode(models.Model):
    """短信验证码: a one-time code texted to a citizen to log in to "My appeals" (我的诉求).

    Only a keyed hash of the code is kept (HMAC with the secret key): a copy of the database does
    not let anyone log in. A code is valid until ``expires_at``, once (``used_at``), and dies
    after too many wrong tries (``failed_attempts``); ``minsheng.appeals.citizen_login`` holds
    the rules.
    """

    phone = models.CharField(_("phone"), max_length=20)
    code_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(_("sent at"))
    expires_at = models.DateTimeField(_("valid until"))
    used_at = models.DateTimeField(_("used at"), null=True, blank=True)
    failed_attempts = models.PositiveSmallIntegerField(_("wrong tries"), default=0)

    class Meta:
        verbose_name = _("login code")
        verbose_name_plural = _("login codes")
        indexes = [models.Index(fields=["phone", "-created_at"], name="login_code_phone_created")]

    def __str__(self) -> str:
        return f"{self.phone[:3]}… {self.created_at:%Y-%m-%d %H:%M}"
