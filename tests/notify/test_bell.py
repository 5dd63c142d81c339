"""The bell: unread count in the console header, the list, mark read — each user's own only."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from minsheng.notify import services
from minsheng.notify.models import Notification

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    return client


def note(user, title: str) -> Notification:
    [created] = services.notify(recipients=[user], kind="test", appeal=None, title=title)
    return created


def test_the_bell_counts_the_users_unread_notifications(world):
    note(world["town_leader"], "一")
    note(world["town_leader"], "二")
    note(world["dispatcher"], "三")

    leader_page = client_for(world["town_leader"]).get("/console/")
    agent_page = client_for(world["agent"]).get("/console/")

    assert leader_page.context["bell_unread"]() == 2
    assert 'Notifications <span class="badge count">2' in leader_page.content.decode()
    assert agent_page.context["bell_unread"]() == 0
    assert 'class="badge count"' not in agent_page.content.decode()


def test_the_count_is_one_query(world):
    for i in range(5):
        note(world["town_leader"], str(i))
    with CaptureQueriesContext(connection) as queries:
        assert services.unread_count(world["town_leader"]) == 5
    assert len(queries) == 1


def test_the_list_shows_only_the_users_own(world):
    mine = note(world["town_leader"], "给我的")
    note(world["dispatcher"], "给别人的")

    page = client_for(world["town_leader"]).get("/console/notifications/")

    assert [n.pk for n in page.context["notifications"]] == [mine.pk]
    assert "给别人的" not in page.content.decode()


def test_mark_read_is_a_post_on_ones_own_notification(world):
    mine = note(world["town_leader"], "给我的")
    client = client_for(world["town_leader"])

    assert client.get(f"/console/notifications/{mine.pk}/read/").status_code == 405
    response = client.post(f"/console/notifications/{mine.pk}/read/")

    assert response.status_code == 302
    mine.refresh_from_db()
    assert mine.read_at is not None
    assert services.unread_count(world["town_leader"]) == 0


def test_someone_elses_notification_is_not_found_and_stays_unread(world):
    theirs = note(world["dispatcher"], "给别人的")

    response = client_for(world["town_leader"]).post(f"/console/notifications/{theirs.pk}/read/")

    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_mark_all_read_touches_only_the_users_own(world):
    note(world["town_leader"], "一")
    note(world["town_leader"], "二")
    theirs = note(world["dispatcher"], "三")

    client_for(world["town_leader"]).post("/console/notifications/read-all/")

    assert services.unread_count(world["town_leader"]) == 0
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_opening_the_appeal_reads_its_notifications_only(world):
    from tests.appeals.factories import dispatched

    appeal, other = dispatched(world), dispatched(world)
    [about] = services.notify(
        recipients=[world["town_leader"]], kind="test", appeal=appeal, title="督办"
    )
    [elsewhere] = services.notify(
        recipients=[world["town_leader"]], kind="test", appeal=other, title="另一件"
    )
    [theirs] = services.notify(
        recipients=[world["dispatcher"]], kind="test", appeal=appeal, title="给别人的"
    )

    page = client_for(world["town_leader"]).get(f"/console/appeals/{appeal.pk}/")

    assert page.status_code == 200
    assert page.context["bell_unread"]() == 1  # the page's own bell already counts it read
    for row in (about, elsewhere, theirs):
        row.refresh_from_db()
    assert about.read_at is not None
    assert elsewhere.read_at is None
    assert theirs.read_at is None
