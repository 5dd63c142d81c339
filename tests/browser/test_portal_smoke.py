"""The portal's first page in a phone-sized browser: readable, accessible, elder mode sticks."""

from __future__ import annotations

import pytest

from tests.browser.conftest import PHONE, axe_violations

pytestmark = pytest.mark.django_db(transaction=True)


def test_home_is_accessible_and_elder_mode_is_remembered(live_server, pages):
    page = pages(viewport=PHONE)
    page.goto(live_server.url + "/")
    assert page.locator("main").count() == 1
    assert axe_violations(page) == []
    assert page.evaluate("document.documentElement.className") == ""
    page.locator("form[action='/ui/elder-mode/'] button").click()
    page.wait_for_load_state()
    assert page.evaluate("document.documentElement.className") == "elder"
    page.goto(live_server.url + "/")
    assert page.evaluate("document.documentElement.className") == "elder"
    assert axe_violations(page) == []
