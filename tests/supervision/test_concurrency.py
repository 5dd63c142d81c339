"""Two workers sweeping at the same moment raise every step once (real threads, real database).

On PostgreSQL each appeal is locked with SKIP LOCKED and every warning, order and escalation is
a unique row; on SQLite IMMEDIATE transactions serialise the writers and the unique rows do the
rest. The same test runs on both.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from minsheng.core.audit import verify_chain
from minsheng.notify.models import Notification
from minsheng.supervision import services as supervision
from minsheng.supervision.models import DeadlineWarning, Escalation, SupervisionOrder
from tests.concurrency import race
from tests.supervision.helpers import DUE, YELLOW, accepted_at, actions

pytestmark = pytest.mark.django_db(transaction=True)


def sweep_twice_at_once(now) -> list[object]:
    results = race(lambda: supervision.sweep(now=now), lambda: supervision.sweep(now=now))
    assert all(isinstance(r, supervision.SweepReport) for r in results), results
    return results


def test_concurrent_sweeps_raise_reminder_order_and_escalation_once_each(world):
    appeals = [accepted_at(world) for _ in range(4)]

    sweep_twice_at_once(YELLOW)
    sweep_twice_at_once(DUE + timedelta(seconds=1))
    order_due = SupervisionOrder.objects.order_by("pk").first().response_due_at
    sweep_twice_at_once(order_due + timedelta(seconds=1))

    for appeal in appeals:
        assert actions(appeal) == [
            "submit",
            "dispatch",
            "accept",
            "remind",
            "supervise",
            "escalate",
        ]
    assert DeadlineWarning.objects.count() == 8  # yellow + red per appeal
    assert SupervisionOrder.objects.count() == 4
    assert Escalation.objects.count() == 4
    # reminder to 2 people, order to 1 leader, escalation to 1 supervisor, per appeal
    assert Notification.objects.count() == 4 * (2 + 1 + 1)
    assert list(verify_chain()) == []
