"""The replayed sweep (a demo or generated year): one appeal swept at exactly the instants a
worker sweeping every minute would have acted, leaving a live sweep nothing to do."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from minsheng.appeals import services
from minsheng.appeals.models import AppealEvent
from minsheng.core import clock
from minsheng.supervision import services as supervision
from minsheng.supervision.models import Escalation, SupervisionOrder
from tests.supervision.helpers import (
    ACCEPT_DUE,
    ACCEPT_YELLOW,
    DUE,
    SH,
    YELLOW,
    actions,
    dispatched_at,
    state,
    warnings,
)

pytestmark = pytest.mark.django_db
SECOND = timedelta(seconds=1)


def _times(appeal_id: int, action: str) -> list[datetime]:
    return list(
        AppealEvent.objects.filter(appeal_id=appeal_id, action=action)
        .order_by("at")
        .values_list("at", flat=True)
    )


def test_replay_acts_at_the_thresholds_and_leaves_a_live_sweep_nothing(world):
    # given an appeal dispatched Monday 10:00 that is accepted late and never answered
    appeal = dispatched_at(world)
    replay = supervision.ReplaySweep()

    # when the replay covers the wait up to a second before the accept deadline turns yellow
    assert replay.between(appeal.pk, appeal.dispatched_at, ACCEPT_YELLOW - SECOND) == []
    # then the accept deadline's yellow and red come at their instants
    accepted = ACCEPT_DUE + timedelta(minutes=20)
    done = replay.between(appeal.pk, ACCEPT_YELLOW - SECOND, accepted)
    assert done == ["yellow", "reminder", "red", "reminder"]
    assert _times(appeal.pk, "remind") == [ACCEPT_YELLOW, ACCEPT_DUE + SECOND]
    with clock.replaying(accepted):
        services.accept_appeal(appeal=appeal, actor=world["town_handler"])

    # when the replay covers the five working days and three more
    end = DUE + timedelta(days=3)
    done = replay.between(appeal.pk, accepted, end)

    # then: the accept warnings cleared, yellow at 75 %, an order when overdue, and the
    # escalation when the order's answer did not come in time
    assert done == ["yellow", "reminder", "red", "order", "escalation"]
    assert _times(appeal.pk, "remind")[-1] == YELLOW
    assert _times(appeal.pk, "supervise") == [DUE + SECOND]
    order = SupervisionOrder.objects.get(appeal=appeal)
    assert order.response_due_at == datetime(2026, 3, 19, 0, 0, tzinfo=SH)
    assert _times(appeal.pk, "escalate") == [order.response_due_at + SECOND]
    assert Escalation.objects.get(appeal=appeal).order_id == order.pk
    assert warnings(appeal) == [("complete", "yellow", DUE), ("complete", "red", DUE)]
    assert actions(appeal) == [
        "submit",
        "dispatch",
        "remind",
        "remind",
        "accept",
        "remind",
        "supervise",
        "escalate",
    ]
    # and a live sweep at the end finds everything already done
    before = state(appeal)
    report = supervision.sweep(now=end)
    assert {k: v for k, v in report.as_dict().items() if v} == {}
    assert state(appeal) == before


def test_replay_of_an_answered_order_does_not_escalate(world):
    appeal = dispatched_at(world)
    with clock.replaying(appeal.dispatched_at + timedelta(minutes=10)):
        services.accept_appeal(appeal=appeal, actor=world["town_handler"])
    replay = supervision.ReplaySweep()
    assert replay.between(appeal.pk, appeal.dispatched_at, DUE + SECOND)[-2:] == ["red", "order"]
    order = SupervisionOrder.objects.get(appeal=appeal)
    with clock.replaying(DUE + timedelta(hours=2)):
        supervision.respond(order=order, actor=world["town_leader"], text="已责成专人办理")
    # the answer came: nothing more to do, even long after its deadline
    assert replay.between(appeal.pk, DUE + timedelta(hours=2), DUE + timedelta(days=5)) == []
    assert not Escalation.objects.filter(appeal=appeal).exists()


def test_a_replied_appeal_is_not_swept_between_steps(world):
    appeal = dispatched_at(world)
    with clock.replaying(appeal.dispatched_at + timedelta(minutes=10)):
        services.accept_appeal(appeal=appeal, actor=world["town_handler"])
        services.reply_appeal(appeal=appeal, actor=world["town_handler"], reply="已处理完毕。")
    replay = supervision.ReplaySweep()
    assert replay.between(appeal.pk, appeal.dispatched_at, DUE + timedelta(days=10)) == []
    assert warnings(appeal, open_only=False) == []


def test_replay_answers_an_order_when_its_answerer_says(world):
    appeal = dispatched_at(world)
    with clock.replaying(appeal.dispatched_at + timedelta(minutes=10)):
        services.accept_appeal(appeal=appeal, actor=world["town_handler"])
    planned = DUE + timedelta(hours=3)
    replay = supervision.ReplaySweep(
        answer=lambda order: (order.issued_at + timedelta(hours=3), world["town_leader"], "已办")
    )
    # when the replay runs past the order's answer deadline
    replay.between(appeal.pk, appeal.dispatched_at, DUE + timedelta(days=5))
    # then the leader answered at the planned instant, and nothing escalated
    order = SupervisionOrder.objects.get(appeal=appeal)
    assert (order.responded_at, order.responded_by, order.response) == (
        planned + SECOND,
        world["town_leader"],
        "已办",
    )
    assert _times(appeal.pk, "respond_supervision") == [planned + SECOND]
    assert not Escalation.objects.filter(appeal=appeal).exists()
