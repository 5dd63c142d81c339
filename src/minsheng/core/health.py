"""Liveness and readiness for load balancers and process managers: no login, no personal data.

``/healthz``: the process answers (it touches nothing else, so a slow database never makes a
balancer kill healthy processes). ``/readyz``: this process can serve — the database answers,
every migration is applied, the data directory is writable; 503 with the failing check named
otherwise, so a balancer sends no traffic to it until it recovers.
"""

from __future__ import annotations

import os

from django.conf import settings
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

OK, FAILED = "ok", "unavailable"
_migrated = False  # once every migration is applied, it stays so for this process


@never_cache
@require_safe
def healthz(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok\n", content_type="text/plain")


@never_cache
@require_safe
def readyz(request: HttpRequest) -> JsonResponse:
    checks = {"database": _database(), "data_dir": _data_dir()}
    checks["migrations"] = _migrations() if checks["database"] == OK else FAILED
    ready = all(state == OK for state in checks.values())
    return JsonResponse(
        {"status": "ready" if ready else "unavailable", "checks": checks},
        status=200 if ready else 503,
    )


def _database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError:
        return FAILED
    return OK


def _migrations() -> str:
    global _migrated
    if _migrated:
        return OK
    from django.db.migrations.executor import MigrationExecutor

    try:
        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except DatabaseError:
        return FAILED
    _migrated = not pending
    return OK if _migrated else "pending"


def _data_dir() -> str:
    return OK if os.access(settings.DATA_DIR, os.W_OK) else FAILED
