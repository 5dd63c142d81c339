"""The demo year is replayed through the services, so it obeys every lifecycle invariant."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from minsheng.appeals import workflow
from minsheng.appeals.choices import Action
from minsheng.appeals.demo import has_demo_data, seed_year
from minsheng.appeals.models import Appeal, AppealEvent
from minsheng.core.audit import verify_chain
from minsheng.core.models import AuditRecord
from minsheng.notify.models import Notification
from minsheng.supervision.models import DeadlineWarning, SupervisionOrder
from minsheng.supervision.services import sweep

pytestmark = pytest.mark.django_db

END = datetime(2026, 6, 30, 18, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def test_seeded_year_is_consistent_history():
    # given / when: a small year, replayed through the services
    assert has_demo_data() is False
    seed_year(appeals=300, seed=11, end=END, sweeps=True)
    # then: every appeal's events replay to its current state by allowed moves
    appeals = {a.pk: a for a in Appeal.objects.all()}
    events: dict[int, list[AppealEvent]] = {}
    for event in AppealEvent.objects.order_by("at", "pk"):
        events.setdefault(event.appeal_id, []).append(event)
    for pk, appeal in appeals.items():
        history = events[pk]
        assert history[0].action == Action.SUBMIT
        status = ""
        for event in history:
            assert event.from_status == status
            if event.action != Action.SUBMIT:
                assert workflow.can_start(Action(event.action), status), (pk, event.action)
            assert event.at <= END
            status = event.to_status
        assert appeal.status == status
        assert appeal.version == len(history)
        if appeal.due_at is not None:
            assert appeal.due_at >= appeal.created_at
    # and the audit chain holds one record per event (plus org and staff set-up)
    assert list(verify_chain()) == []
    assert AuditRecord.objects.filter(action__startswith="appeal.").count() == len(
        AppealEvent.objects.all()
    )
    statuses = Counter(a.status for a in appeals.values())
    assert statuses["closed"] / len(appeals) > 0.9
    # the deadline sweep ran all year as the worker's would: late appeals were warned and
    # supervised, and a live sweep at the year's end finds nothing left to raise or clear
    assert DeadlineWarning.objects.filter(level="red").exists()
    assert SupervisionOrder.objects.filter(responded_at__isnull=False).exists()
    assert Notification.objects.filter(kind="supervision.yellow").exists()
    assert {k: v for k, v in sweep(now=END).as_dict().items() if v} == {}
    assert has_demo_data() is True


def test_seeding_is_repeatable_from_the_same_seed():
    seed_year(appeals=40, seed=5, end=END)
    first = list(Appeal.objects.order_by("pk").values_list("channel", "appeal_type", "status"))
    Appeal.objects.all().delete()
    # the year's steps do not depend on whether the sweeps run
    seed_year(appeals=40, seed=5, end=END, sweeps=True)
    second = list(Appeal.objects.order_by("pk").values_list("channel", "appeal_type", "status"))
    assert first == second
