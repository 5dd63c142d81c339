"""Warnings, supervision orders, escalations and the sweep's scheduling lease."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from minsheng.appeals.models import Appeal
from minsheng.org.models import OrgUnit

from .choices import DeadlineKind, EscalationCause, Level


class DeadlineWarning(models.Model):
    """预警: a yellow or red warning about one value of one deadline of an appeal.

    Unique per (appeal, deadline kind, level, deadline value): a second sweep, or a second
    worker sweeping at the same moment, cannot raise it again. A new deadline value (an
    extension, a resume, a reopen) is a new deadline and may warn again; the sweep clears
    (``cleared_at``) the warnings whose deadline no longer applies.
    """

    appeal = models.ForeignKey(Appeal, on_delete=models.CASCADE, related_name="deadline_warnings")
    deadline_kind = models.CharField(_("deadline"), max_length=8, choices=DeadlineKind.choices)
    level = models.CharField(_("level"), max_length=8, choices=Level.choices)
    deadline = models.DateTimeField(_("deadline value"))
    raised_at = models.DateTimeField(_("raised at"))
    cleared_at = models.DateTimeField(_("cleared at"), null=True, blank=True)

    class Meta:
        verbose_name = _("deadline warning")
        verbose_name_plural = _("deadline warnings")
        constraints = [
            models.UniqueConstraint(
                fields=["appeal", "deadline_kind", "level", "deadline"], name="warning_once"
            )
        ]
        indexes = [
            models.Index(
                fields=["appeal"], condition=Q(cleared_at__isnull=True), name="warning_open"
            )
        ]

    def __str__(self) -> str:
        return f"{self.appeal_id} {self.deadline_kind} {self.level} {self.deadline:%Y-%m-%d %H:%M}"


class SupervisionOrder(models.Model):
    """督办单: a formal order from the center to a unit's leaders, with a response deadline.

    The sweep issues one per overdue completion deadline (``automatic``, unique per deadline
    value); staff issue others by hand. A leader of ``unit`` answers it.
    """

    appeal = models.ForeignKey(Appeal, on_delete=models.CASCADE, related_name="supervision_orders")
    unit = models.ForeignKey(
        OrgUnit, on_delete=models.PROTECT, related_name="+", verbose_name=_("addressed to")
    )
    automatic = models.BooleanField(_("issued by the sweep"), default=False)
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("issued by"),
    )
    issued_at = models.DateTimeField(_("issued at"))
    reason = models.TextField(_("reason"))
    # The appeal's deadline the order is about (its value when the order was issued).
    deadline = models.DateTimeField(_("deadline value"), null=True, blank=True)
    response_due_at = models.DateTimeField(_("answer by"))
    responded_at = models.DateTimeField(_("answered at"), null=True, blank=True)
    responded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("answered by"),
    )
    response = models.TextField(_("answer"), blank=True)

    class Meta:
        verbose_name = _("supervision order")
        verbose_name_plural = _("supervision orders")
        constraints = [
            models.UniqueConstraint(
                fields=["appeal", "deadline"],
                condition=Q(automatic=True),
                name="order_once_per_overdue",
            )
        ]
        indexes = [
            models.Index(
                fields=["response_due_at"],
                condition=Q(responded_at__isnull=True),
                name="order_open_due",
            ),
            models.Index(fields=["unit", "-id"], name="order_unit_id"),
            # a leader's open orders, most urgent first (the orders page)
            models.Index(
                fields=["unit", "response_due_at"],
                condition=Q(responded_at__isnull=True),
                name="order_open_unit",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.appeal_id} → {self.unit_id} {self.issued_at:%Y-%m-%d}"

    @property
    def is_open(self) -> bool:
        return self.responded_at is None


class Escalation(models.Model):
    """升级督办: the supervisors take up an appeal that is overdue again; once per appeal."""

    appeal = models.OneToOneField(Appeal, on_delete=models.CASCADE, related_name="escalation")
    cause = models.CharField(_("cause"), max_length=16, choices=EscalationCause.choices)
    order = models.ForeignKey(
        SupervisionOrder, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    raised_at = models.DateTimeField(_("raised at"))

    class Meta:
        verbose_name = _("escalation")
        verbose_name_plural = _("escalations")

    def __str__(self) -> str:
        return f"{self.appeal_id} {self.cause}"
