"""Property-based API fuzzing (schemathesis): no input makes the API answer 500, and every
answer matches the committed OpenAPI document."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from django.core import signals
from django.core.cache import cache
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from minsheng.org.services import create_api_token
from minsheng.wsgi import application
from tests.conftest import make_world

schema = schemathesis.openapi.from_wsgi("/api/openapi.json", application)


@pytest.fixture
def bearer(db: None) -> Iterator[str]:
    cache.clear()
    world = make_world()
    _token, secret = create_api_token(name="fuzz", unit=world.city, actor=None)
    # As Django's test client does: the request cycle must not close the test's connection.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield secret
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_api_never_fails_with_a_server_error(case, bearer):
    cache.clear()  # the tracking rate limit would answer 429 to most examples
    case.call_and_validate(
        headers={"Authorization": f"Bearer {bearer}"},
        checks=[not_a_server_error, response_schema_conformance],
    )
