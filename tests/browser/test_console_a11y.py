"""The console's everyday pages pass axe-core with no serious or critical violations."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache
from playwright.sync_api import expect

from minsheng.appeals.models import Appeal
from tests.browser.conftest import axe_violations
from tests.browser.test_journeys import dispatched_to_town, staff_login
from tests.conftest import make_world

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> None:
    cache.clear()


@pytest.mark.parametrize("role", ["dispatcher", "town_handler"])
def test_console_home_queue_and_detail_are_accessible(live_server: Any, pages: Any, role: str):
    world = make_world()
    appeal: Appeal = dispatched_to_town(world)
    page = staff_login(pages, live_server.url, world[role])
    found = {"home": axe_violations(page)}

    page.goto(live_server.url + "/console/appeals/")
    expect(page.locator("table.queue tbody tr")).to_have_count(1)
    found["queue"] = axe_violations(page)

    page.goto(live_server.url + "/console/appeals/?status=dispatched&overdue=1")
    found["filtered queue"] = axe_violations(page)

    page.goto(f"{live_server.url}/console/appeals/{appeal.pk}/")
    expect(page.locator("h1 .tracking")).to_have_text(appeal.tracking_code)
    found["detail"] = axe_violations(page)

    page.goto(live_server.url + "/console/no-such-page/")
    found["404"] = axe_violations(page)

    assert found == {name: [] for name in found}
