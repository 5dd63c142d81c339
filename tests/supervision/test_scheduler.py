"""The periodic sweep's scheduling: one enqueue per period across workers; the command."""

from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from minsheng.supervision import scheduler
from minsheng.supervision.models import DeadlineWarning, SweepLease
from minsheng.supervision.tasks import sweep_deadlines
from tests.supervision.helpers import YELLOW, accepted_at

pytestmark = pytest.mark.django_db


def sweeps_queued() -> int:
    return DBTaskResult.objects.filter(task_path=sweep_deadlines.module_path).count()


def test_only_one_worker_takes_the_lease_per_period():
    now = timezone.now()
    taken = [scheduler.take_lease(seconds=60, now=now, holder=f"w{i}") for i in range(3)]
    assert taken == [True, False, False]
    assert scheduler.take_lease(seconds=60, now=now + timedelta(seconds=59)) is False
    assert scheduler.take_lease(seconds=60, now=now + timedelta(seconds=60)) is True


def expire_lease() -> None:
    SweepLease.objects.update(until=timezone.now() - timedelta(seconds=1))


def test_a_tick_enqueues_a_sweep_only_when_none_is_waiting():
    assert scheduler.tick(seconds=60, holder="w1") is True
    assert sweeps_queued() == 1

    # the next period: the first sweep is still queued, so no second one
    expire_lease()
    assert scheduler.tick(seconds=60, holder="w2") is False
    assert sweeps_queued() == 1

    # once it has run, the next period enqueues again
    DBTaskResult.objects.update(status=TaskResultStatus.SUCCESSFUL)
    expire_lease()
    assert scheduler.tick(seconds=60, holder="w2") is True
    assert sweeps_queued() == 2


def test_the_sweep_task_and_the_command_run_one_sweep(world):
    accepted_at(world)
    out = StringIO()

    with pytest.MonkeyPatch.context() as patch:
        from minsheng.core import clock

        patch.setattr(clock, "now", lambda: YELLOW)
        result = sweep_deadlines.call()
        call_command("sweep_deadlines", stdout=out)

    assert result["yellow"] == 1
    assert json.loads(out.getvalue())["yellow"] == 0  # the second sweep finds nothing new
    assert DeadlineWarning.objects.count() == 1
