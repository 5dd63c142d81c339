"""Notifications (the in-app bell) and their deliveries by text message and e-mail."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .choices import Channel, DeliveryStatus


class Notification(models.Model):
    """通知: one message to one staff member, shown under the bell until it is read.

    ``key`` names the event it reports ("supervision.order:12"), so a retried caller cannot
    notify the same person twice about it; it is empty for messages without such an event.
    """

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="notifications",
        verbose_name=_("recipient"),
    )
    kind = models.CharField(_("kind"), max_length=40)
    key = models.CharField(max_length=80, blank=True)
    appeal = models.ForeignKey(
        "appeals.Appeal",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("appeal"),
    )
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("message"), blank=True)
    created_at = models.DateTimeField(_("created at"))
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        indexes = [
            models.Index(fields=["recipient", "-id"], name="notification_recipient_id"),
            # The bell's count reads only this small index.
            models.Index(
                fields=["recipient"],
                condition=Q(read_at__isnull=True),
                name="notification_unread",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["recipient", "key"],
                condition=~Q(key=""),
                name="notification_once_per_event",
            )
        ]

    def __str__(self) -> str:
        return f"{self.recipient_id}: {self.title}"


class Delivery(models.Model):
    """投递: a notification sent by text message or e-mail, at most once per channel.

    The unique (notification, channel) pair and the conditional claim (pending → sending) are
    what keep a retried or duplicated task from sending twice.
    """

    notification = models.ForeignKey(
        Notification, on_delete=models.CASCADE, related_name="deliveries"
    )
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices)
    # The phone number or e-mail address at the time of the event.
    address = models.CharField(_("address"), max_length=254)
    status = models.CharField(
        _("status"),
        max_length=8,
        choices=DeliveryStatus.choices,
        default=DeliveryStatus.PENDING,
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    class Meta:
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
        constraints = [
            models.UniqueConstraint(fields=["notification", "channel"], name="delivery_once")
        ]
        indexes = [
            # The recovery sweep looks for rows left "sending".
            models.Index(
                fields=["claimed_at"],
                condition=Q(status="sending"),
                name="delivery_sending",
            )
        ]

    def __str__(self) -> str:
        return f"{self.notification_id} {self.channel} {self.status}"
