"""The statistics dashboard in a real browser: charts draw, and a bar leads to its queue."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache
from playwright.sync_api import expect

from minsheng.analytics.rollups import refresh_rollups
from tests.analytics.factories import build_march
from tests.browser.conftest import axe_violations
from tests.browser.test_journeys import staff_login
from tests.conftest import make_world

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> None:
    cache.clear()


def test_dashboard_charts_render_and_a_bar_opens_the_matching_queue(live_server: Any, pages: Any):
    # given a rolled-up month and a center administrator
    world = make_world()
    march = build_march(world)
    refresh_rollups()
    page = staff_login(pages, live_server.url, world["center_admin"])
    # when
    page.goto(live_server.url + "/console/stats/?from=2026-03-01&to=2026-03-31")
    # then every chart is drawn on a canvas of real size
    chart = page.locator('[data-chart="chart-channel"]')
    expect(chart).to_have_attribute("data-ready", "1")
    box = chart.locator("canvas").first.bounding_box()
    assert box is not None and box["width"] > 100 and box["height"] > 100
    assert page.locator("[data-chart] canvas").count() == 6
    assert axe_violations(page) == []
    # when the hotline bar (5 appeals) is clicked
    x, y = page.evaluate(
        """() => {
          const el = document.querySelector('[data-chart="chart-channel"]');
          const point = echarts.getInstanceByDom(el).convertToPixel({seriesIndex: 0}, [0, 2]);
          const box = el.getBoundingClientRect();
          return [box.left + point[0], box.top + point[1]];
        }"""
    )
    page.mouse.click(x, y)
    # then the queue shows exactly those appeals (invalid and merged ones left out, as in the
    # figure: docs/kpi.md)
    expect(page).to_have_url(
        live_server.url + "/console/appeals/?received_from=2026-03-01&received_to=2026-03-31"
        "&counted=1&channel=hotline"
    )
    expect(page.locator("table.queue tbody tr")).to_have_count(5)
    codes = set(page.locator("table.queue a.tracking").all_inner_texts())
    assert codes == {march.appeals[k].tracking_code for k in "abcde"}
