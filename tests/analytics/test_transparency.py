"""The public transparency page: the city's figures by township, and no personal data."""

from __future__ import annotations

from datetime import timedelta

from tests.appeals.factories import closed, submitted

from minsheng.analytics.rollups import refresh_rollups
from minsheng.appeals import services
from minsheng.core import clock


def test_transparency_page_shows_figures_by_township_without_personal_data(client, world):
    # given appeals received this month (one closed), with names, phones and addresses
    first = submitted(world, name="张三丰", phone="13912345678", address="东村三组12号")
    done = closed(world)
    services.rate_appeal(appeal=done, actor=None, rating="satisfied", solved=True)
    refresh_rollups()
    # when
    response = client.get("/stats/")
    # then
    assert response.status_code == 200
    html = response.content.decode()
    year = response.context["year"]
    assert (year["totals"].received, year["totals"].closed) == (2, 1)
    assert [(name, c.received) for name, c in year["places"]] == [("和兴镇", 2), ("青石镇", 0)]
    for private in (
        "张三丰",
        "13912345678",
        "5678",
        "东村三组",
        first.tracking_code,
        first.content,
    ):
        assert private not in html
    assert "50.00" in html


def test_transparency_page_needs_no_login_and_takes_no_input(client, db):
    assert client.get("/stats/", {"from": "x"}).status_code == 200
    assert client.post("/stats/").status_code == 405


def test_an_old_appeal_is_not_this_month(client, world):
    with clock.replaying(clock.now() - timedelta(days=400)):
        submitted(world)
    refresh_rollups()
    response = client.get("/stats/")
    assert response.context["month"]["totals"].received == 0
