"""The database out of reach (a restart, a failover) is a clear 503, and the service recovers by
itself as soon as the database answers again: no restart of the application."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.db import connection
from django.test import Client

from tests.appeals.factories import submitted
from tests.conftest import make_world

pytestmark = pytest.mark.django_db(transaction=True)


@contextmanager
def database_out_of_reach() -> Iterator[None]:
    """Point the connection at a server that is not there (a real failed connect, no mock)."""
    saved = dict(connection.settings_dict)
    connection.close()
    if connection.vendor == "postgresql":
        connection.settings_dict.update(HOST="127.0.0.1", PORT="1")  # nothing listens on 1
    else:
        connection.settings_dict["NAME"] = "/nonexistent-minsheng-dir/db.sqlite3"
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(saved)


def test_api_answers_503_with_retry_after_while_the_database_is_down_then_recovers():
    world = make_world()
    appeal = submitted(world)
    client = Client(raise_request_exception=False)
    body = {"tracking_code": appeal.tracking_code, "phone": appeal.citizen_phone}
    url = "/api/v1/public/appeals/track"

    with database_out_of_reach():
        down = client.post(url, body, content_type="application/json")

    assert down.status_code == 503
    assert down["Retry-After"] == "5"
    assert down.json()["code"] == "service_unavailable"
    # and the very next request, the database back, is served by the same process
    up = client.post(url, body, content_type="application/json")
    assert up.status_code == 200
    assert up.json()["tracking_code"] == appeal.tracking_code


def test_console_page_answers_a_503_page_while_the_database_is_down_then_recovers():
    world = make_world()
    client = Client(raise_request_exception=False)
    client.force_login(world["dispatcher"])

    with database_out_of_reach():
        down = client.get("/console/")
        english = client.get("/console/", HTTP_ACCEPT_LANGUAGE="en")

    assert down.status_code == 503
    assert down["Retry-After"] == "5"
    assert "text/html" in down["Content-Type"]
    assert "服务暂时无法使用，请几秒钟后重试。" in down.content.decode()  # Chinese by default
    assert "The service is briefly unavailable." in english.content.decode()
    up = client.get("/console/")
    assert up.status_code == 200
