"""The console queue offers its xlsx export: a link with the queue's filters (not its cursor),
a file equal to the filtered queue when small, a background job (by POST only) when large."""

from __future__ import annotations

import io
import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from openpyxl import load_workbook

from minsheng.analytics.models import ExportJob
from minsheng.org.models import Membership
from tests.appeals.factories import dispatched, submitted

pytestmark = pytest.mark.django_db

EXPORT = "/console/stats/export/queue.xlsx"


def client_for(user) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    return client


def export_link(page: str) -> str | None:
    found = re.search(r'<a class="button secondary" href="([^"]*)">Download \(xlsx\)</a>', page)
    return unescape(found.group(1)) if found else None


def queue_codes(response) -> list[str]:
    return [row["tracking_code"] for row in response.context["rows"]]


def test_the_queue_links_its_export_with_its_filters_but_not_its_cursor(world):
    for _ in range(3):
        submitted(world)
    client = client_for(world["dispatcher"])
    # when: the second page of a filtered queue
    first = client.get("/console/appeals/", {"status": "received", "overdue": "1"})
    second = client.get("/console/appeals/?status=received&channel=hotline&cursor=abc")
    # then
    link = export_link(first.content.decode())
    assert link is not None
    assert urlsplit(link).path == EXPORT
    assert parse_qs(urlsplit(link).query) == {"status": ["received"], "overdue": ["1"]}
    link = export_link(second.content.decode())
    assert parse_qs(urlsplit(link).query) == {"status": ["received"], "channel": ["hotline"]}
    assert 'href="/console/stats/exports/">My exports</a>' in first.content.decode()
    # an unfiltered queue links the bare export
    assert export_link(client.get("/console/appeals/").content.decode()) == EXPORT


def test_no_export_link_while_a_filter_is_wrong_or_for_someone_without_a_post(world):
    client = client_for(world["dispatcher"])
    page = client.get("/console/appeals/", {"received_from": "2026-13-01"}).content.decode()
    assert export_link(page) is None
    Membership.objects.filter(user=world["agent"]).delete()
    page = client_for(world["agent"]).get("/console/appeals/").content.decode()
    assert export_link(page) is None
    assert "My exports" not in page


def test_following_the_link_of_a_small_queue_downloads_exactly_that_queue(world, settings):
    settings.MINSHENG_EXPORT_INLINE_ROWS = 10
    for _ in range(3):
        submitted(world)
    noise = [dispatched(world, category=world.noise) for _ in range(2)]
    client = client_for(world["dispatcher"])
    queue = client.get("/console/appeals/", {"category": world.noise.pk})
    # when
    response = client.get(export_link(queue.content.decode()))
    # then
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment")
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).worksheets[0]
    codes = [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert codes == queue_codes(queue)
    assert sorted(codes) == sorted(a.tracking_code for a in noise)
    assert ExportJob.objects.count() == 0


def test_above_the_threshold_the_link_offers_a_job_that_only_a_post_creates(world, settings):
    settings.MINSHENG_EXPORT_INLINE_ROWS = 2
    for _ in range(3):
        submitted(world)
    client = client_for(world["dispatcher"])
    link = export_link(client.get("/console/appeals/", {"status": "received"}).content.decode())
    # when: following the link (a GET, as often as it likes)
    offers = [client.get(link), client.get(link)]
    # then: an offer, no job
    assert [r.status_code for r in offers] == [200, 200]
    assert ExportJob.objects.count() == 0
    offer = offers[0].content.decode()
    form = re.search(f'<form method="post" action="({re.escape(EXPORT)}[^"]*)"', offer)
    assert form is not None
    # when: its form is submitted
    response = client.post(unescape(form.group(1)))
    # then: a job with the queue's filters, and the user is sent to their exports
    job = ExportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/console/stats/exports/?job={job.pk}"
    assert (job.owner, job.filters["status"], job.query) == (
        world["dispatcher"],
        ["received"],
        "status=received",
    )
    page = client.get(response["Location"]).content.decode()
    assert "Download (xlsx)" not in page  # not written yet
