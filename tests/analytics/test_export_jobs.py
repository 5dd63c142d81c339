"""Large queue exports run in the background: a job per request, a worker writes the file,
only its owner downloads it (audited), housekeeping deletes it, and bad input makes no job."""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from html import escape
from urllib.parse import urlencode

import pytest
from django.test import Client
from django.utils import timezone
from openpyxl import load_workbook
from tests.analytics.factories import build_march
from tests.concurrency import race

from minsheng.analytics import export_jobs, exports
from minsheng.analytics.apps import EXPORT_POLL_SECONDS
from minsheng.analytics.models import ExportJob, ExportStatus
from minsheng.appeals.selectors import QueueFilter
from minsheng.core import periodic
from minsheng.core.models import AuditRecord
from minsheng.org.models import Membership

EXPORT = "/console/stats/export/queue.xlsx"
CLOSED_IN_MARCH = {"received_from": "2026-03-01", "received_to": "2026-03-31", "status": "closed"}


@pytest.fixture
def small_threshold(settings, tmp_path):
    """Every queue of more than two appeals goes to the background; files under tmp_path."""
    settings.MINSHENG_EXPORT_INLINE_ROWS = 2
    settings.DATA_DIR = tmp_path
    return tmp_path


@pytest.fixture
def march(world):
    return build_march(world)


def _rows(content: bytes) -> list[tuple]:
    return list(load_workbook(io.BytesIO(content)).worksheets[0].iter_rows(values_only=True))


def _url(params) -> str:
    return f"{EXPORT}?{urlencode(params, doseq=True)}"


def _requested(client, world, params=CLOSED_IN_MARCH, user="center_admin") -> ExportJob:
    """What the offer page's form does: a POST to the export with the queue's query string."""
    client.force_login(world[user])
    response = client.post(_url(params))
    job = ExportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/console/stats/exports/?job={job.pk}"
    return job


def test_a_get_above_the_threshold_offers_a_job_and_makes_none(
    client, world, march, small_threshold
):
    client.force_login(world["center_admin"])
    # when
    response = client.get(EXPORT, CLOSED_IN_MARCH)
    # then: a page whose form posts the same query string; nothing queued
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert f'<form method="post" action="{escape(_url(CLOSED_IN_MARCH))}"' in page
    assert "csrfmiddlewaretoken" in page
    assert ExportJob.objects.count() == 0


def test_creating_a_job_needs_the_csrf_token(world, march, small_threshold):
    client = Client(enforce_csrf_checks=True)
    client.force_login(world["center_admin"])
    # when: a POST from elsewhere, without the page's token
    response = client.post(_url(CLOSED_IN_MARCH))
    # then
    assert response.status_code == 403
    assert ExportJob.objects.count() == 0
    # the page's own form carries the token that works
    offer = client.get(EXPORT, CLOSED_IN_MARCH)
    token = offer.context["csrf_token"]
    response = client.post(_url(CLOSED_IN_MARCH), {"csrfmiddlewaretoken": str(token)})
    assert response.status_code == 302
    assert ExportJob.objects.count() == 1


def test_a_queue_above_the_threshold_becomes_a_queued_job(client, world, march, small_threshold):
    # when
    job = _requested(client, world)
    # then: queued for its owner with the queue's filter; no file yet
    assert job.owner == world["center_admin"]
    assert job.status == ExportStatus.QUEUED
    assert job.file == ""
    assert job.filters["status"] == ["closed"]
    assert job.query == "received_from=2026-03-01&received_to=2026-03-31&status=closed"
    page = client.get(f"/console/stats/exports/?job={job.pk}")
    assert page.status_code == 200
    assert "hx-trigger" in page.content.decode()  # the list polls while the job waits
    # a second POST of the same export (a resubmitted form) makes no second job
    assert client.post(_url(CLOSED_IN_MARCH)).status_code == 302
    assert ExportJob.objects.count() == 1


def test_a_small_queue_still_downloads_at_once_and_is_audited(client, world, march, settings):
    settings.MINSHENG_EXPORT_INLINE_ROWS = 3
    client.force_login(world["center_admin"])
    # when
    response = client.get(EXPORT, CLOSED_IN_MARCH)
    # then
    assert response.status_code == 200
    rows = _rows(b"".join(response.streaming_content))
    assert [r[0] for r in rows[1:]] == [march.appeals[k].tracking_code for k in "eba"]
    assert ExportJob.objects.count() == 0
    record = AuditRecord.objects.get(action="analytics.export_queue")
    assert record.actor_id == world["center_admin"].pk
    assert record.data["rows"] == 3


def test_the_worker_writes_what_the_inline_export_would(
    client, world, march, small_threshold, settings
):
    job = _requested(client, world)
    # when
    assert export_jobs.run_pending() == 1
    # then
    job.refresh_from_db()
    assert job.status == ExportStatus.DONE
    assert job.row_count == 3
    assert job.finished_at is not None
    path = small_threshold / job.file
    assert path.parent == small_threshold / "exports"
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no half file left
    rows = _rows(path.read_bytes())
    assert rows[0][:3] == ("查询码", "受理时间", "渠道")
    assert [r[0] for r in rows[1:]] == [march.appeals[k].tracking_code for k in "eba"]
    assert all("****" in r[14] for r in rows[1:])  # phones masked
    assert isinstance(rows[1][1], datetime)
    # the same file as the download a small queue gets
    settings.MINSHENG_EXPORT_INLINE_ROWS = 10
    inline = client.get(EXPORT, CLOSED_IN_MARCH)
    assert _rows(b"".join(inline.streaming_content)) == rows
    # and the list shows the link, without polling
    page = client.get("/console/stats/exports/").content.decode()
    assert f"/console/stats/exports/{job.pk}.xlsx" in page
    assert "hx-trigger" not in page


def test_the_worker_uses_the_owners_scope(client, world, march, small_threshold):
    # 和兴镇: a, b, c, d of the March set
    params = {"received_from": "2026-03-01", "received_to": "2026-03-31"}
    job = _requested(client, world, params, user="town_leader")
    export_jobs.run_pending()
    job.refresh_from_db()
    rows = _rows((small_threshold / job.file).read_bytes())
    assert sorted(r[0] for r in rows[1:]) == sorted(march.appeals[k].tracking_code for k in "abcd")


def test_only_the_owner_downloads_and_each_download_is_audited(
    client, world, march, small_threshold
):
    job = _requested(client, world)
    url = f"/console/stats/exports/{job.pk}.xlsx"
    # before it is written: nothing to download
    assert client.get(url).status_code == 404
    export_jobs.run_pending()
    # when: the owner
    response = client.get(url)
    # then
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    assert len(_rows(b"".join(response.streaming_content))) == 4
    record = AuditRecord.objects.get(action="analytics.export_download")
    assert (record.actor_id, record.target_id) == (world["center_admin"].pk, str(job.pk))
    # when: anyone else, even with a wider scope
    for other in ("other_handler", "supervisor"):
        client.force_login(world[other])
        assert client.get(url).status_code == 404
        assert url not in client.get("/console/stats/exports/").content.decode()
    assert AuditRecord.objects.filter(action="analytics.export_download").count() == 1


def test_a_failing_job_is_marked_failed_with_no_file(world, small_threshold):
    job = ExportJob.objects.create(
        owner=world["center_admin"],
        filters={"received_from": "not a date"},
        created_at=timezone.now(),
    )
    # when
    export_jobs.run_pending()
    # then
    job.refresh_from_db()
    assert job.status == ExportStatus.FAILED
    assert job.error == export_jobs.FAILED
    assert job.file == ""
    assert job.finished_at is not None
    assert list((small_threshold / "exports").iterdir()) == []


def test_an_owner_who_lost_access_gets_no_file(client, world, march, small_threshold):
    job = _requested(client, world)
    Membership.objects.filter(user=world["center_admin"]).delete()
    # when
    export_jobs.run_pending()
    # then
    job.refresh_from_db()
    assert job.status == ExportStatus.FAILED
    assert job.error == export_jobs.LOST_ACCESS
    assert job.file == ""
    assert not (small_threshold / "exports").exists()


@pytest.mark.parametrize(
    "params",
    [
        {"received_from": "2026-13-01"},
        {"unit": "999999"},
        {"received_from": "2026-03-31", "received_to": "2026-03-01"},
        {"received_from": "2001-01-01", "received_to": "2026-03-01"},
        {"status": "nonsense"},
    ],
)
def test_bad_filters_are_4xx_and_make_no_job(client, world, march, small_threshold, params):
    client.force_login(world["center_admin"])
    for response in (
        client.get(EXPORT, params, HTTP_ACCEPT="application/json"),
        client.post(_url(params), HTTP_ACCEPT="application/json"),
    ):
        assert response.status_code == 422
        assert response.json()["code"] in ("bad_parameter", "bad_period")
    assert ExportJob.objects.count() == 0


def test_someone_without_a_post_may_not_export(client, world, march, small_threshold):
    Membership.objects.filter(user=world["center_admin"]).delete()
    client.force_login(world["center_admin"])
    for response in (
        client.get(EXPORT, HTTP_ACCEPT="application/json"),
        client.post(EXPORT, HTTP_ACCEPT="application/json"),
    ):
        assert response.status_code == 403
    assert ExportJob.objects.count() == 0
    assert not AuditRecord.objects.filter(action="analytics.export_queue").exists()


def test_a_queue_larger_than_a_sheet_fails_with_a_clear_message(
    client, world, march, small_threshold, monkeypatch
):
    job = _requested(client, world)
    monkeypatch.setattr(exports, "MAX_ROWS", 2)  # a sheet of two rows instead of 1,048,575
    # when
    export_jobs.run_pending()
    # then
    job.refresh_from_db()
    assert (job.status, job.error, job.file) == (ExportStatus.FAILED, export_jobs.TOO_MANY_ROWS, "")
    assert list((small_threshold / "exports").iterdir()) == []  # no half file, no spool


def test_housekeeping_deletes_old_exports_and_settles_abandoned_ones(
    client, world, march, small_threshold, settings
):
    settings.MINSHENG_EXPORT_KEEP_DAYS = 7
    old = _requested(client, world)
    export_jobs.run_pending()
    old.refresh_from_db()
    old_file = small_threshold / old.file
    now = timezone.now()
    ExportJob.objects.filter(pk=old.pk).update(created_at=now - timedelta(days=8))
    recent = ExportJob.objects.create(
        owner=world["center_admin"], created_at=now - timedelta(days=6)
    )
    abandoned = ExportJob.objects.create(
        owner=world["center_admin"],
        status=ExportStatus.RUNNING,
        created_at=now - timedelta(days=1),
        started_at=now - export_jobs.STALE_RUNNING - timedelta(minutes=1),
    )
    # when
    result = export_jobs.expire(now=now)
    # then
    assert result == {"jobs": 1, "files": 1, "abandoned": 1}
    assert not old_file.exists()
    assert set(ExportJob.objects.values_list("pk", flat=True)) == {recent.pk, abandoned.pk}
    abandoned.refresh_from_db()
    assert (abandoned.status, abandoned.error) == (ExportStatus.FAILED, export_jobs.ABANDONED)


def test_housekeeping_removes_the_spool_a_killed_worker_left(db, small_threshold):
    spool = small_threshold / "exports" / ".spool-abc"
    spool.mkdir(parents=True)
    (spool / "tmp123").write_bytes(b"rows")
    now = timezone.now()
    # when: soon after, the worker may still be writing; later it certainly is not
    assert export_jobs.expire(now=now)["files"] == 0
    result = export_jobs.expire(now=now + export_jobs.STALE_RUNNING + timedelta(minutes=1))
    # then
    assert result["files"] == 1
    assert not spool.exists()


def test_a_job_that_expired_while_running_leaves_no_file(client, world, march, small_threshold):
    job = _requested(client, world)
    claimed = export_jobs.claim_next()
    ExportJob.objects.filter(pk=job.pk).delete()  # housekeeping got there first
    # when
    export_jobs.run_job(claimed)
    # then
    assert list((small_threshold / "exports").iterdir()) == []


def test_the_worker_and_housekeeping_are_periodic_jobs(settings):
    jobs = {job.name: job for job in periodic.jobs()}
    assert jobs["export_jobs"].every() == EXPORT_POLL_SECONDS
    settings.MINSHENG_HOUSEKEEPING_SECONDS = 1800
    assert jobs["export_housekeeping"].every() == 1800


def test_stored_filters_come_back_the_same():
    filters = QueueFilter(
        status=["closed"],
        unit=3,
        received_from=datetime(2026, 3, 1, tzinfo=timezone.get_default_timezone()),
        text="路灯",
        counted=True,
        sort="due",
    )
    assert export_jobs.filters_from_json(export_jobs.filters_to_json(filters)) == filters


@pytest.mark.django_db(transaction=True)
def test_two_workers_claiming_at_once_never_run_a_job_twice(world, small_threshold):
    jobs = [
        ExportJob.objects.create(owner=world["center_admin"], created_at=timezone.now())
        for _ in range(6)
    ]

    def claim_all() -> list[int]:
        mine = []
        while (job := export_jobs.claim_next()) is not None:
            mine.append(job.pk)
            export_jobs.run_job(job)
        return mine

    claimed = race(claim_all, claim_all)
    assert all(isinstance(c, list) for c in claimed), claimed
    first, second = claimed
    assert not set(first) & set(second)
    assert sorted(first + second) == [j.pk for j in jobs]
    assert set(ExportJob.objects.values_list("status", flat=True)) == {ExportStatus.DONE}
    assert len(list((small_threshold / "exports").iterdir())) == 6
