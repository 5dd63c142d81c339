"""The deadline sweep with frozen time: yellow at exactly the threshold, red when overdue,
reminder → supervision order → escalation, each once; suspension and extensions."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from minsheng.appeals import services
from minsheng.appeals.models import AppealEvent
from minsheng.core import clock
from minsheng.notify.models import Notification
from minsheng.supervision import services as supervision
from minsheng.supervision.models import Escalation, SupervisionOrder
from tests.supervision.helpers import (
    ACCEPT_DUE,
    ACCEPT_YELLOW,
    DUE,
    MONDAY_10,
    SH,
    YELLOW,
    accepted_at,
    actions,
    dispatched_at,
    state,
    warnings,
)

pytestmark = pytest.mark.django_db
SECOND = timedelta(seconds=1)


def test_yellow_warning_at_exactly_the_threshold_and_none_a_second_before(world):
    # given an accepted appeal due at the end of Monday 16 March (5 working days)
    appeal = accepted_at(world)
    assert appeal.due_at == DUE

    # when the sweep runs one second before 75% of the limit is used
    early = supervision.sweep(now=YELLOW - SECOND)

    # then nothing is raised
    assert early.as_dict()["yellow"] == 0
    assert warnings(appeal) == []
    assert actions(appeal) == ["submit", "dispatch", "accept"]

    # when it runs at exactly the threshold (Friday 18:00)
    report = supervision.sweep(now=YELLOW)

    # then one yellow warning and one reminder (催办) to the town's handler and leader
    assert (report.as_dict()["yellow"], report.reminders) == (1, 1)
    assert warnings(appeal) == [("complete", "yellow", DUE)]
    assert actions(appeal) == ["submit", "dispatch", "accept", "remind"]
    remind = AppealEvent.objects.get(appeal=appeal, action="remind")
    assert (remind.actor_id, remind.actor_kind, remind.at) == (None, "system", YELLOW)
    assert (remind.from_status, remind.to_status) == ("in_progress", "in_progress")
    assert sorted(
        Notification.objects.filter(appeal=appeal).values_list("recipient__username", flat=True)
    ) == ["town_handler", "town_leader"]


def test_accept_deadline_turns_yellow_then_red_with_one_reminder_each(world):
    appeal = dispatched_at(world)
    assert appeal.accept_due_at == ACCEPT_DUE

    assert supervision.sweep(now=ACCEPT_YELLOW - SECOND).reminders == 0
    assert supervision.sweep(now=ACCEPT_YELLOW).reminders == 1
    assert supervision.sweep(now=ACCEPT_DUE).reminders == 0  # at the deadline: still on time
    assert supervision.sweep(now=ACCEPT_DUE + SECOND).reminders == 1
    assert supervision.sweep(now=ACCEPT_DUE + 2 * SECOND).reminders == 0

    assert warnings(appeal) == [("accept", "yellow", ACCEPT_DUE), ("accept", "red", ACCEPT_DUE)]
    assert actions(appeal) == ["submit", "dispatch", "remind", "remind"]
    assert SupervisionOrder.objects.count() == 0  # a late acceptance gets reminders, not orders


def test_accepting_clears_the_accept_warnings(world):
    appeal = dispatched_at(world)
    supervision.sweep(now=ACCEPT_YELLOW)
    with clock.replaying(ACCEPT_YELLOW + timedelta(minutes=5)):
        services.accept_appeal(appeal=appeal, actor=world["town_handler"])

    report = supervision.sweep(now=ACCEPT_YELLOW + timedelta(minutes=10))

    assert report.cleared == 1
    assert warnings(appeal) == []
    assert warnings(appeal, open_only=False) == [("accept", "yellow", ACCEPT_DUE)]


def test_overdue_reminder_then_order_then_escalation_each_once(world):
    appeal = accepted_at(world)

    # yellow → reminder
    supervision.sweep(now=YELLOW)
    # overdue → supervision order to the town's leader, answer within one working day
    overdue = DUE + SECOND
    report = supervision.sweep(now=overdue)
    assert (report.as_dict()["red"], report.orders) == (1, 1)
    order = SupervisionOrder.objects.get(appeal=appeal)
    assert (order.automatic, order.unit, order.deadline) == (True, world.town, DUE)
    # Tuesday 17 March 00:00:01 + 1 working day → the end of Wednesday 18 March
    assert order.response_due_at == datetime(2026, 3, 19, 0, 0, tzinfo=SH)
    assert list(
        Notification.objects.filter(kind="supervision.order").values_list(
            "recipient__username", flat=True
        )
    ) == ["town_leader"]

    # sweeping again changes nothing
    before = state(appeal)
    supervision.sweep(now=overdue + timedelta(hours=1))
    assert state(appeal) == before

    # the order is not answered in time → escalation to the city's supervisors, once
    late = order.response_due_at + SECOND
    assert supervision.sweep(now=late).escalations == 1
    assert supervision.sweep(now=late + timedelta(hours=1)).escalations == 0

    assert actions(appeal) == ["submit", "dispatch", "accept", "remind", "supervise", "escalate"]
    escalation = Escalation.objects.get(appeal=appeal)
    assert (escalation.cause, escalation.order_id) == ("order_overdue", order.pk)
    assert list(
        Notification.objects.filter(kind="supervision.escalation").values_list(
            "recipient__username", flat=True
        )
    ) == ["supervisor"]


def test_an_answered_order_does_not_escalate(world):
    appeal = accepted_at(world)
    supervision.sweep(now=DUE + SECOND)
    order = SupervisionOrder.objects.get(appeal=appeal)
    with clock.replaying(DUE + timedelta(hours=3)):
        supervision.respond(order=order.pk, actor=world["town_leader"], text="今天下午修复。")

    assert supervision.sweep(now=order.response_due_at + SECOND).escalations == 0
    assert Escalation.objects.count() == 0
    assert actions(appeal)[-1] == "respond_supervision"


def test_a_suspended_appeal_does_not_warn(world):
    appeal = accepted_at(world)
    with clock.replaying(MONDAY_10 + timedelta(hours=1)):
        services.suspend_appeal(appeal=appeal, actor=world["town_handler"], reason="等待鉴定")

    report = supervision.sweep(now=DUE + timedelta(days=3))

    assert report.as_dict() == {
        "yellow": 0,
        "red": 0,
        "reminders": 0,
        "orders": 0,
        "escalations": 0,
        "cleared": 0,
        "skipped": 0,
        "stale_deliveries": 0,
    }
    assert warnings(appeal) == []


def test_an_extension_clears_the_warning_and_a_second_overdue_escalates(world):
    appeal = accepted_at(world)
    supervision.sweep(now=YELLOW)
    supervision.sweep(now=DUE + SECOND)  # red + supervision order
    assert warnings(appeal) == [("complete", "yellow", DUE), ("complete", "red", DUE)]

    # the center approves 5 more working days: due at the end of Monday 23 March
    with clock.replaying(DUE + timedelta(hours=2)):
        services.request_extension(
            appeal=appeal, actor=world["town_handler"], amount=5, unit="working_days", reason="材料"
        )
        services.approve_extension(appeal=appeal, actor=world["dispatcher"])
    new_due = datetime(2026, 3, 24, 0, 0, tzinfo=SH)

    report = supervision.sweep(now=DUE + timedelta(hours=3))

    # the old deadline's warnings are cleared; none for the new one yet
    assert report.cleared == 2
    assert warnings(appeal) == []

    # overdue again on the new deadline: escalated (once), no second order
    report = supervision.sweep(now=new_due + SECOND)
    assert (report.orders, report.escalations) == (0, 1)
    assert warnings(appeal) == [("complete", "red", new_due)]
    assert Escalation.objects.get(appeal=appeal).cause == "overdue_again"
    assert SupervisionOrder.objects.filter(appeal=appeal).count() == 1


def test_closed_and_replied_appeals_are_not_swept_and_their_warnings_clear(world):
    appeal = accepted_at(world)
    supervision.sweep(now=YELLOW)
    with clock.replaying(YELLOW + timedelta(hours=1)):
        services.reply_appeal(appeal=appeal, actor=world["town_handler"], reply="已修复。")

    report = supervision.sweep(now=DUE + timedelta(days=5))

    assert (report.cleared, report.orders, report.as_dict()["red"]) == (1, 0, 0)
    assert warnings(appeal) == []


def test_sweep_reads_only_running_appeals(world, django_assert_max_num_queries):
    # given nothing is running, the sweep is a handful of queries whatever else exists
    appeals = [accepted_at(world) for _ in range(3)]
    with clock.replaying(MONDAY_10):
        for appeal in appeals:
            services.suspend_appeal(appeal=appeal, actor=world["town_handler"], reason="等")
    with django_assert_max_num_queries(6):
        supervision.sweep(now=DUE + timedelta(days=1))
