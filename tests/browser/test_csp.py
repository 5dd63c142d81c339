"""The strict Content-Security-Policy breaks nothing a user does: no violation on real pages."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache
from playwright.sync_api import Page, expect

from minsheng.analytics.rollups import refresh_rollups
from tests.analytics.factories import build_march
from tests.browser.test_journeys import staff_login
from tests.conftest import make_world

pytestmark = pytest.mark.django_db(transaction=True)

# Every violation the browser reports (blocked or not), kept on the window of each page.
LISTEN = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', e =>
  window.__csp.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline') + ' ' + e.sourceFile));
"""


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> None:
    cache.clear()


def violations(page: Page) -> list[str]:
    return page.evaluate("window.__csp || ['listener missing']")


def test_console_and_portal_pages_run_under_the_policy(live_server: Any, pages: Any):
    world = make_world()
    march = build_march(world)
    refresh_rollups()
    base = live_server.url
    page = staff_login(pages, base, world["center_admin"], bypass_csp=False)
    page.context.add_init_script(LISTEN)

    seen: dict[str, list[str]] = {}
    page.goto(base + "/console/")
    seen["home"] = violations(page)
    page.goto(base + "/console/queue/")
    seen["queue"] = violations(page)
    page.goto(base + "/console/intake/")
    seen["intake"] = violations(page)
    page.goto(base + f"/console/appeals/{march.appeals['c'].pk}/")
    expect(page.locator("h1 .tracking")).to_have_text(march.appeals["c"].tracking_code)
    seen["detail"] = violations(page)
    page.goto(base + "/console/stats/?from=2026-03-01&to=2026-03-31")
    expect(page.locator('[data-chart="chart-channel"]')).to_have_attribute("data-ready", "1")
    seen["dashboard"] = violations(page)

    portal = pages(bypass_csp=False)
    portal.context.add_init_script(LISTEN)
    for path in ("/", "/appeal/new/", "/stats/"):
        portal.goto(base + path)
        seen[path] = violations(portal)

    assert seen == {name: [] for name in seen}
