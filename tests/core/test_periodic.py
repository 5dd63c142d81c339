"""Periodic jobs: one enqueue per period across workers, none while a run waits; registered
jobs are the deadline sweep and the rollups; the sweep's task and command run one sweep."""

from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from minsheng.analytics.tasks import refresh_rollups_task
from minsheng.core import periodic
from minsheng.core.models import PeriodicLease
from minsheng.supervision.models import DeadlineWarning
from minsheng.supervision.tasks import sweep_deadlines
from tests.supervision.helpers import YELLOW, accepted_at

pytestmark = pytest.mark.django_db


def queued(task) -> int:
    return DBTaskResult.objects.filter(task_path=task.module_path).count()


def job(name: str) -> periodic.Job:
    return next(j for j in periodic.jobs() if j.name == name)


def expire(name: str) -> None:
    PeriodicLease.objects.filter(name=name).update(until=timezone.now() - timedelta(seconds=1))


def test_the_sweep_and_the_rollups_are_registered_with_their_settings(settings):
    settings.MINSHENG_SWEEP_SECONDS = 60
    settings.MINSHENG_ROLLUP_SECONDS = 120
    assert job("sweep_deadlines").task is sweep_deadlines
    assert job("sweep_deadlines").every() == 60
    assert job("refresh_rollups").task is refresh_rollups_task
    assert job("refresh_rollups").every() == 120


def test_only_one_worker_takes_a_lease_per_period_and_leases_are_per_job():
    now = timezone.now()
    taken = [periodic.take_lease("a", seconds=60, now=now, holder=f"w{i}") for i in range(3)]
    assert taken == [True, False, False]
    assert periodic.take_lease("b", seconds=60, now=now) is True  # another job, its own lease
    assert periodic.take_lease("a", seconds=60, now=now + timedelta(seconds=59)) is False
    assert periodic.take_lease("a", seconds=60, now=now + timedelta(seconds=60)) is True


def test_a_tick_enqueues_only_when_no_run_is_waiting(settings):
    settings.MINSHENG_SWEEP_SECONDS = 60
    sweep = job("sweep_deadlines")
    assert periodic.tick(sweep, holder="w1") is True
    assert queued(sweep_deadlines) == 1

    expire("sweep_deadlines")  # the next period: the first run is still queued
    assert periodic.tick(sweep, holder="w2") is False
    assert queued(sweep_deadlines) == 1

    DBTaskResult.objects.update(status=TaskResultStatus.SUCCESSFUL)
    expire("sweep_deadlines")
    assert periodic.tick(sweep, holder="w2") is True
    assert queued(sweep_deadlines) == 2


def test_a_job_set_to_zero_never_runs(settings):
    settings.MINSHENG_ROLLUP_SECONDS = 0
    assert periodic.tick(job("refresh_rollups")) is False
    assert queued(refresh_rollups_task) == 0
    assert not PeriodicLease.objects.filter(name="refresh_rollups").exists()


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
