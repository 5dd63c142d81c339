"""/healthz and /readyz: open to a load balancer, telling which check fails, never a 500."""

from __future__ import annotations

import pytest
from django.db import OperationalError, connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

pytestmark = pytest.mark.django_db


def test_healthz_answers_without_touching_the_database():
    with CaptureQueriesContext(connection) as queries:
        response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.content == b"ok\n"
    assert len(queries) == 0
    assert "no-cache" in response["Cache-Control"]


def test_readyz_is_ready_when_database_migrations_and_data_dir_are():
    response = Client().get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "checks": {"database": "ok", "data_dir": "ok", "migrations": "ok"},
    }


def test_readyz_says_503_and_names_the_database_when_it_does_not_answer():
    def refuse(execute, sql, params, many, context):
        raise OperationalError("connection refused")  # what a stopped server gives

    with connection.execute_wrapper(refuse):
        response = Client().get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["database"] == "unavailable"
    assert response.json()["status"] == "unavailable"


def test_readyz_names_a_missing_data_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path / "unmounted"  # e.g. the data volume failed to mount
    response = Client().get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"] == {
        "database": "ok",
        "data_dir": "unavailable",
        "migrations": "ok",
    }


@pytest.mark.parametrize("url", ["/healthz", "/readyz"])
def test_only_get_and_head(url):
    assert Client().post(url).status_code == 405
    assert Client().head(url).status_code == 200
