"""Appeals on a known calendar week, and what the sweep left on them."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from minsheng.appeals import services
from minsheng.appeals.models import Appeal, AppealEvent
from minsheng.core import clock
from minsheng.notify.models import Notification
from minsheng.supervision.models import DeadlineWarning, Escalation, SupervisionOrder
from tests.appeals.factories import reload, submitted
from tests.conftest import World

SH = ZoneInfo("Asia/Shanghai")
# Monday 9 March 2026, 10:00: an ordinary week (no holiday until Qingming on 4–6 April).
MONDAY_10 = datetime(2026, 3, 9, 10, 0, tzinfo=SH)
# The world's limits: accept within 2 hours, complete within 5 working days. Counting starts
# the next day: Tue 10, Wed 11, Thu 12, Fri 13, Mon 16 → due at the end of Monday 16 March.
ACCEPT_DUE = datetime(2026, 3, 9, 12, 0, tzinfo=SH)
ACCEPT_YELLOW = datetime(2026, 3, 9, 11, 30, tzinfo=SH)  # 30 of 120 minutes left
DUE = datetime(2026, 3, 17, 0, 0, tzinfo=SH)
# 1.25 of 5 working days left: all of Monday 16 and the last quarter of Friday 13.
YELLOW = datetime(2026, 3, 13, 18, 0, tzinfo=SH)


def dispatched_at(world: World, at: datetime = MONDAY_10, **overrides) -> Appeal:
    with clock.replaying(at):
        appeal = submitted(world, **overrides)
        services.dispatch_appeal(appeal=appeal, actor=world["dispatcher"], unit=world.town)
    return reload(appeal)


def accepted_at(world: World, at: datetime = MONDAY_10, **overrides) -> Appeal:
    appeal = dispatched_at(world, at, **overrides)
    with clock.replaying(at):
        services.accept_appeal(appeal=appeal, actor=world["town_handler"])
    return reload(appeal)


def actions(appeal: Appeal) -> list[str]:
    return list(
        AppealEvent.objects.filter(appeal=appeal)
        .order_by("at", "pk")
        .values_list("action", flat=True)
    )


def warnings(appeal: Appeal, *, open_only: bool = True) -> list[tuple[str, str, datetime]]:
    rows = DeadlineWarning.objects.filter(appeal=appeal)
    if open_only:
        rows = rows.filter(cleared_at__isnull=True)
    return list(rows.order_by("pk").values_list("deadline_kind", "level", "deadline"))


def state(appeal: Appeal) -> dict[str, object]:
    """Everything supervision can add to an appeal, counted."""
    row = Appeal.objects.get(pk=appeal.pk)
    return {
        "status": row.status,
        "version": row.version,
        "events": AppealEvent.objects.filter(appeal=appeal).count(),
        "warnings": DeadlineWarning.objects.filter(appeal=appeal).count(),
        "orders": SupervisionOrder.objects.filter(appeal=appeal).count(),
        "escalations": Escalation.objects.filter(appeal=appeal).count(),
        "notifications": Notification.objects.filter(appeal=appeal).count(),
    }
