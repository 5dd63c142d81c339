"""'Use my location' on a phone: the position goes with the appeal, or the form works without."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache
from playwright.sync_api import expect

from minsheng.appeals.models import Appeal
from tests.browser.conftest import PHONE, axe_violations
from tests.browser.test_journeys import CITIZEN_PHONE, DONE_URL, EN, fill_submit_form
from tests.conftest import make_world

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> None:
    cache.clear()


def test_a_citizen_adds_the_phones_position_and_can_remove_it(live_server: Any, pages: Any):
    world = make_world()
    page = pages(
        viewport=PHONE,
        locale=EN,
        geolocation={"latitude": 36.0986, "longitude": 114.3925, "accuracy": 12},
        permissions=["geolocation"],
    )
    page.goto(live_server.url + "/appeal/new/")
    fill_submit_form(page, world, text="Street light out by the bridge", phone=CITIZEN_PHONE)

    page.get_by_role("button", name="Use my location").click()
    expect(page.get_by_role("status").filter(has_text="location")).to_have_text(
        "Your location is added (accurate to about 12 m)."
    )
    assert axe_violations(page) == []
    page.get_by_role("button", name="Remove my location").click()
    expect(page.get_by_role("button", name="Remove my location")).to_be_hidden()
    page.get_by_role("button", name="Use my location").click()
    expect(page.get_by_role("button", name="Remove my location")).to_be_visible()

    page.get_by_role("button", name="Send my appeal").click()
    expect(page).to_have_url(DONE_URL)
    appeal = Appeal.objects.get()
    assert (str(appeal.latitude), str(appeal.longitude)) == ("36.098600", "114.392500")


def test_a_refused_permission_says_so_and_the_appeal_goes_without(live_server: Any, pages: Any):
    world = make_world()
    page = pages(viewport=PHONE, locale=EN)  # no permission granted: the browser refuses
    page.goto(live_server.url + "/appeal/new/")
    fill_submit_form(page, world, text="Blocked drain on the main road", phone=CITIZEN_PHONE)
    page.get_by_role("button", name="Use my location").click()
    expect(page.get_by_role("status").filter(has_text="Location")).to_contain_text("switched off")
    page.get_by_role("button", name="Send my appeal").click()
    expect(page).to_have_url(DONE_URL)
    assert Appeal.objects.get().latitude is None
