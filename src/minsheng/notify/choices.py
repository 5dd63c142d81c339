"""Vocabularies of notifications: delivery channels and delivery states."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Channel(models.TextChoices):
    """Ways out besides the in-app bell, which every notification gets."""

    SMS = "sms", _("Text message")  # 短信
    EMAIL = "email", _("E-mail")  # 电子邮件


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Waiting to be sent")  # queued, or waiting for the next attempt
    SENDING = "sending", _("Being sent")  # claimed by a worker, the backend was called
    SENT = "sent", _("Sent")  # the backend accepted it: never sent again
    FAILED = "failed", _("Failed")  # every attempt failed; the last error is kept
    # A worker stopped in the middle of sending: the gateway may or may not have it. Settled
    # by the recovery sweep; see ``services.recover_stale_deliveries``.
    UNKNOWN = "unknown", _("Outcome unknown")
