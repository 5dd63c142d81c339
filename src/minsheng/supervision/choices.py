"""Vocabularies of supervision: which deadline, how late, why escalated."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class DeadlineKind(models.TextChoices):
    ACCEPT = "accept", _("Accept deadline")  # 签收时限: dispatch → accept_due_at
    COMPLETE = "complete", _("Completion deadline")  # 办理时限: clock start → due_at


class Level(models.TextChoices):
    YELLOW = "yellow", _("Yellow warning")  # 黄牌预警: most of the time limit is used
    RED = "red", _("Red warning")  # 红牌预警: the deadline has passed


class EscalationCause(models.TextChoices):
    ORDER_OVERDUE = "order_overdue", _("Supervision order not answered in time")
    OVERDUE_AGAIN = "overdue_again", _("Overdue again after a new deadline")
