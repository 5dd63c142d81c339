"""Property-based API fuzzing (schemathesis): no input makes the API answer 500, and every
answer matches the OpenAPI document the app serves (CI checks it equals docs/openapi.json).

Every operation gets ``MINSHENG_FUZZ_EXAMPLES`` generated requests (default 80: about 2,700 in
all, two to three minutes on two cores), each sent as one of the three callers the document
allows: an integration's bearer token, a staff member's session (the console's cookie and CSRF
token) or nobody (a citizen on the public routes; 401 or 403 on the staff ones). The requests are
counted, and when the whole file ran, the count is printed and must reach ``MIN_REQUESTS``, so a
change that quietly stops generation (a broken strategy, a health check) fails the build.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
import schemathesis
from django.core import signals
from django.core.cache import cache
from django.db import close_old_connections
from django.middleware.csrf import _get_new_csrf_string
from django.test import Client
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from minsheng.org.services import create_api_token
from minsheng.wsgi import application
from tests.appeals import factories
from tests.conftest import make_world

schema = schemathesis.openapi.from_wsgi("/api/openapi.json", application)

EXAMPLES = int(os.environ.get("MINSHENG_FUZZ_EXAMPLES", "80"))
# Hypothesis stops early on operations with few distinct inputs (no body, one path parameter),
# so not every operation reaches EXAMPLES; this floor is what the full file must send.
MIN_REQUESTS = 2000 * EXAMPLES // 80
OPERATIONS = sum(1 for _ in schema.get_all_operations())
CALLERS = ("token", "session", "anonymous")


@dataclass
class Tally:
    """Requests actually sent by this file, by caller and by status."""

    requests: int = 0
    operations: set[str] = field(default_factory=set)
    by_caller: Counter[str] = field(default_factory=Counter)
    by_status: Counter[int] = field(default_factory=Counter)


TALLY = Tally()


@pytest.fixture(scope="module", autouse=True)
def _count_requests(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    statuses = ", ".join(f"{code}: {n}" for code, n in sorted(TALLY.by_status.items()))
    summary = (
        f"\nAPI fuzz: {TALLY.requests} requests over {len(TALLY.operations)}/{OPERATIONS} "
        f"operations; callers {dict(TALLY.by_caller)}; statuses {{{statuses}}}"
    )
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled():
        print(summary)
    if len(TALLY.operations) == OPERATIONS:  # not when a single operation is run with -k
        assert TALLY.requests >= MIN_REQUESTS, summary


@dataclass
class Callers:
    bearer: str
    session_cookies: dict[str, str]
    csrf_token: str
    appeal_ids: list[int]


@pytest.fixture
def callers(db: None) -> Iterator[Callers]:
    cache.clear()
    world = make_world()
    _token, secret = create_api_token(name="fuzz", unit=world.city, actor=None)
    # Appeals in several states, so generated ids often reach a real appeal and its rules.
    appeals = [
        factories.submitted(world),
        factories.dispatched(world),
        factories.in_progress(world),
        factories.replied(world),
        factories.closed(world),
    ]
    client = Client()
    client.force_login(world["dispatcher"])
    csrf = _get_new_csrf_string()
    # As Django's test client does: the request cycle must not close the test's connection.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield Callers(
            bearer=secret,
            session_cookies={"sessionid": client.cookies["sessionid"].value, "csrftoken": csrf},
            csrf_token=csrf,
            appeal_ids=[a.pk for a in appeals],
        )
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


def _aim_at_real_appeals(case: schemathesis.Case, ids: list[int]) -> None:
    """Small generated ids become the fixture's appeals; large and negative ones stay (404)."""
    params = case.path_parameters or {}
    value = params.get("appeal_id")
    if isinstance(value, int) and 0 <= value < 1000:
        params["appeal_id"] = ids[value % len(ids)]


@schema.parametrize()
@schema.given(caller=st.sampled_from(CALLERS))
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_api_never_fails_with_a_server_error(case, caller, callers):
    cache.clear()  # the tracking rate limit would answer 429 to most examples
    _aim_at_real_appeals(case, callers.appeal_ids)
    headers: dict[str, str] = {}
    cookies: dict[str, str] = {}
    if caller == "token":
        headers["Authorization"] = f"Bearer {callers.bearer}"
    elif caller == "session":
        cookies = callers.session_cookies
        headers["X-CSRFToken"] = callers.csrf_token
    response = case.call(headers=headers, cookies=cookies)
    TALLY.requests += 1
    TALLY.operations.add(case.operation.label)
    TALLY.by_caller[caller] += 1
    TALLY.by_status[response.status_code] += 1
    case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])
