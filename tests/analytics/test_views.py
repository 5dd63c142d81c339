"""Statistics pages: figures linked to their queue, scope, bad input as 4xx, pinned queries."""

from __future__ import annotations

import re
from datetime import date
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from tests.analytics.factories import build_march
from tests.conftest import fresh

from minsheng.analytics.models import NARROW_ROLLUPS, DailyRollup
from minsheng.analytics.rollups import refresh_rollups

MARCH = {"from": "2026-03-01", "to": "2026-03-31"}


@pytest.fixture
def march(world):
    built = build_march(world)
    refresh_rollups()
    return built


def _get(client, user, url, params=None, **headers):
    client.force_login(user)
    return client.get(url, params or {}, **headers)


def test_dashboard_shows_the_month_with_every_figure_linked_to_its_queue(client, world, march):
    # when
    response = _get(client, world["center_admin"], "/console/stats/", MARCH)
    # then
    assert response.status_code == 200
    html = response.content.decode()
    summary = response.context["summary"]
    # overdue now: c and d (in progress, their March deadlines long past)
    assert [s["value"] for s in summary] == [6, 3, 3, "50.00%", "66.67%", "100.00%", 2]
    received_url = summary[0]["url"]
    assert parse_qs(urlsplit(received_url).query) == {
        "received_from": ["2026-03-01"],
        "received_to": ["2026-03-31"],
        "counted": ["1"],
    }
    # and the queue behind the figure lists exactly the appeals it counts
    assert len(client.get(received_url).context["rows"]) == 6
    closed = parse_qs(urlsplit(summary[1]["url"]).query)
    assert closed["status"] == ["closed"]
    # every chart has its JSON and its table
    for chart in ("trend", "channel", "type", "category", "place", "funnel"):
        assert f'id="chart-{chart}-data"' in html
        assert f'data-chart="chart-{chart}"' in html
    channel_rows = {r["key"]: r for r in response.context["channel_rows"]}
    assert channel_rows["hotline"]["counters"].received == 5
    assert channel_rows["walk_in"]["counters"].received == 1
    assert parse_qs(urlsplit(channel_rows["walk_in"]["url"]).query)["channel"] == ["walk_in"]
    assert 'src="/static/ui/vendor/echarts.min.js"' in html


def test_the_linked_queue_lists_exactly_the_appeals_behind_the_figure(client, world, march):
    # given the "closed" figure of the dashboard
    page = _get(client, world["center_admin"], "/console/stats/", MARCH)
    closed_url = page.context["summary"][1]["url"]
    # when
    queue = client.get(closed_url)
    # then: a b e
    codes = {row["tracking_code"] for row in queue.context["rows"]}
    assert codes == {march.appeals[k].tracking_code for k in "abe"}


def test_unit_drill_down_and_kpi_table(client, world, march):
    # when
    response = _get(client, world["center_admin"], "/console/stats/", MARCH)
    rows = {r["label"]: r for r in response.context["unit_rows"]}
    # then: the town handled a b c d; the sparkline has one point per month
    town = rows["和兴镇"]
    assert [c["text"] for c in town["cells"]][:4] == ["4", "2", "2", "50.00%"]
    assert parse_qs(urlsplit(town["cells"][0]["url"]).query)["unit"] == [str(world.town.pk)]
    assert town["spark_label"] == "4"
    assert (
        town["drill"].endswith(f"unit={world.town.pk}") or f"unit={world.town.pk}" in town["drill"]
    )


def test_a_township_leader_sees_only_their_township(client, world, march):
    # when
    response = _get(client, world["other_leader"], "/console/stats/", MARCH)
    # then: 青石镇 handled none of the month's appeals (d is placed there but led by 和兴镇)
    assert response.status_code == 200
    assert response.context["totals"].received == 0
    labels = [r["label"] for r in response.context["unit_rows"]]
    assert "和兴镇" not in labels


def test_a_township_leader_cannot_name_another_township(client, world, march):
    # when
    response = _get(
        client, world["other_leader"], "/console/stats/", {**MARCH, "unit": world.town.pk}
    )
    json_response = _get(
        client,
        world["other_leader"],
        "/console/stats/",
        {**MARCH, "unit": world.town.pk},
        HTTP_ACCEPT="application/json",
    )
    # then
    assert response.status_code == 404
    assert json_response.status_code == 404
    assert json_response.json()["code"] == "stats_unit_not_found"


def test_a_leader_sees_their_own_township_figures(client, world, march):
    response = _get(client, world["town_leader"], "/console/stats/", MARCH)
    assert response.status_code == 200
    assert response.context["totals"].received == 4


@pytest.mark.parametrize(
    "params",
    [
        {"from": "2026-03-31", "to": "2026-03-01"},
        {"from": "2026-02-30"},
        {"from": "yesterday"},
        {"from": "1990-01-01", "to": "2026-01-01"},
        {"unit": "999999"},
        {"unit": "abc"},
        {"category": "999999"},
        {"grain": "hour"},
        {"channel": "fax"},
    ],
)
def test_bad_input_is_a_4xx_never_a_500(client, world, params):
    response = _get(client, world["center_admin"], "/console/stats/", params)
    assert 400 <= response.status_code < 500
    assert response.status_code in (404, 422)


def test_staff_without_a_statistics_role_are_refused(client, world):
    response = _get(client, world["agent"], "/console/stats/")
    assert response.status_code == 403
    home = _get(client, world["agent"], "/console/")
    assert "/console/stats/" not in home.content.decode()
    admin_home = _get(client, world["center_admin"], "/console/")
    assert "/console/stats/" in admin_home.content.decode()


def test_leader_view_and_ranking_render(client, world, march):
    leader = _get(client, world["center_admin"], "/console/stats/leader/", MARCH)
    assert leader.status_code == 200
    assert "共受理6件，已办结3件，办结率50.00%，正在办理3件" in leader.content.decode()
    ranking = _get(client, world["center_admin"], "/console/stats/ranking/", {"month": "2026-03"})
    assert ranking.status_code == 200
    bad = _get(client, world["center_admin"], "/console/stats/ranking/", {"month": "2026-13"})
    assert bad.status_code == 422


def test_dashboard_query_count_is_pinned(client, world, march):
    # given a logged-in admin (the session and user read are part of every request)
    client.force_login(world["center_admin"])
    client.get("/console/stats/", MARCH)  # warm the calendar and reference caches
    # when
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/console/stats/", MARCH)
    # then (the notification bell of the console's header is another app's to count)
    ours = [
        q["sql"] for q in queries if "notify_" not in q["sql"] and "supervision_" not in q["sql"]
    ]
    assert response.status_code == 200
    assert len(ours) == 24, "\n".join(sql[:120] for sql in ours)


def test_dashboard_query_count_does_not_grow_with_appeals(client, world, march):
    client.force_login(world["center_admin"])
    client.get("/console/stats/", MARCH)
    with CaptureQueriesContext(connection) as before:
        client.get("/console/stats/", MARCH)
    build_march(world)  # twice the appeals
    refresh_rollups()
    assert DailyRollup.objects.exists()
    with CaptureQueriesContext(connection) as after:
        client.get("/console/stats/", MARCH)
    assert len(after) == len(before)


def test_rollups_feed_the_dashboard_not_the_appeals(client, world, march):
    # given rollups emptied by hand: the flows read them, not the appeals
    DailyRollup.objects.all().delete()
    for model, _dims in NARROW_ROLLUPS:
        model.objects.all().delete()
    response = _get(client, fresh(world["center_admin"]), "/console/stats/", MARCH)
    assert response.context["totals"].received == 0
    assert re.search(r"chart-trend-data", response.content.decode())
    assert date(2026, 3, 1) == response.context["f"].date_from
