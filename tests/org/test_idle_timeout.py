"""Idle staff sessions are signed out; activity is written at most once a minute."""

from __future__ import annotations

import time

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from minsheng.core.middleware import LAST_ACTIVITY
from minsheng.core.models import AuditRecord
from minsheng.org.models import User


def client_for(user: User) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    return client


def last_seen(client: Client, seconds_ago: int | None = None) -> int:
    """The session's recorded activity; with ``seconds_ago``, first set it that far back."""
    session = client.session
    if seconds_ago is not None:
        session[LAST_ACTIVITY] = int(time.time()) - seconds_ago
        session.save()
    return client.session[LAST_ACTIVITY]


def test_a_session_idle_for_the_timeout_is_signed_out_with_a_message(world):
    user = world["dispatcher"]
    client = client_for(user)
    last_seen(client, seconds_ago=30 * 60 + 1)

    response = client.get("/console/appeals/")

    assert (response.status_code, response["Location"]) == (
        302,
        "/console/login/?next=/console/appeals/",
    )
    assert "_auth_user_id" not in client.session
    login_page = client.get(response["Location"]).content.decode()
    assert "You were signed out after 30 minutes without activity." in login_page
    record = AuditRecord.objects.get(action="org.staff.idle_logout")
    assert (record.actor_id, record.target_id, record.data) == (
        user.pk,
        str(user.pk),
        {"minutes": 30},
    )


def test_a_session_used_within_the_timeout_stays(world):
    client = client_for(world["dispatcher"])
    last_seen(client, seconds_ago=29 * 60)

    assert client.get("/console/appeals/").status_code == 200
    assert client.get("/console/appeals/").status_code == 200
    assert not AuditRecord.objects.filter(action="org.staff.idle_logout").exists()


def test_activity_is_rewritten_at_most_once_a_minute(world):
    client = client_for(world["dispatcher"])
    recent = last_seen(client, seconds_ago=30)

    client.get("/console/")
    assert last_seen(client) == recent  # no session write

    client.get("/console/")  # unchanged again
    stale = last_seen(client, seconds_ago=61)
    client.get("/console/")

    assert last_seen(client) > stale
    assert abs(last_seen(client) - time.time()) <= 2


def test_a_page_view_within_the_minute_writes_no_session(world):
    client = client_for(world["dispatcher"])
    client.get("/console/notifications/")

    with CaptureQueriesContext(connection) as queries:
        client.get("/console/notifications/")

    assert not [q["sql"] for q in queries if "django_session" in q["sql"] and "UPDATE" in q["sql"]]


@pytest.mark.parametrize("minutes", [5, 60])
def test_the_timeout_is_a_setting(world, settings, minutes):
    settings.MINSHENG_IDLE_TIMEOUT_MINUTES = minutes
    staying = client_for(world["dispatcher"])
    leaving = client_for(world["agent"])
    last_seen(staying, seconds_ago=minutes * 60 - 30)
    last_seen(leaving, seconds_ago=minutes * 60 + 1)

    assert staying.get("/console/").status_code == 200
    assert leaving.get("/console/").status_code == 302


def test_the_session_api_answers_401_after_the_timeout(world):
    client = client_for(world["dispatcher"])
    last_seen(client, seconds_ago=31 * 60)

    response = client.get("/api/v1/appeals")

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert AuditRecord.objects.filter(action="org.staff.idle_logout").count() == 1


def test_the_admin_is_signed_out_too(world):
    client = client_for(world["center_admin"])
    last_seen(client, seconds_ago=31 * 60)

    response = client.get("/admin/", follow=True)

    assert response.redirect_chain[-1][0].startswith("/console/login/")
    assert "_auth_user_id" not in client.session


def test_the_portal_neither_signs_out_nor_writes_the_session(world):
    client = client_for(world["dispatcher"])
    stale = last_seen(client, seconds_ago=31 * 60)

    assert client.get("/").status_code == 200
    with CaptureQueriesContext(connection) as queries:
        client.get("/")

    assert last_seen(client) == stale
    assert "_auth_user_id" in client.session
    assert not [q for q in queries if "django_session" in q["sql"] and "UPDATE" in q["sql"]]
    assert not AuditRecord.objects.filter(action="org.staff.idle_logout").exists()


def test_a_hotline_form_sent_after_the_timeout_is_kept_for_after_login(world):
    client = client_for(world["agent"])
    last_seen(client, seconds_ago=31 * 60)

    response = client.post("/console/intake/", {"content": "路灯不亮", "phone": "13800001111"})

    assert response.status_code == 302
    assert response["Location"] == "/console/login/?next=/console/intake/"
    assert client.session["ui.kept_post"]["fields"]["content"] == ["路灯不亮"]
