"""Hostile strings in a real browser: the console detail and queue and the portal's tracking page
show every string of tests/hostile.py literally, run none of it, break no Content-Security-
Policy rule, and a 5,000-character line without a space does not widen a phone's page."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache
from playwright.sync_api import Page, expect

from minsheng.appeals import services
from minsheng.appeals.models import Appeal
from tests import hostile
from tests.appeals.factories import in_progress, reload
from tests.browser.conftest import PHONE
from tests.browser.test_csp import LISTEN, violations
from tests.browser.test_journeys import EN, staff_login
from tests.conftest import World, make_world

pytestmark = pytest.mark.django_db(transaction=True)

CITIZEN_PHONE = "13800138111"
JOINED = "\n".join(hostile.STORED.values())
LONG = hostile.long_line(5000)

# Everything in the DOM that could run script, and every dialog the page opened.
INJECTED = """() => {
  const found = [];
  for (const el of document.querySelectorAll('*')) {
    for (const attr of el.attributes) {
      if (attr.name.startsWith('on')) found.push(el.tagName + ' ' + attr.name);
      if (['href', 'src', 'action', 'formaction'].includes(attr.name)
          && /^\\s*(javascript|data):/i.test(attr.value)) found.push(el.tagName + ' ' + attr.name);
    }
    if (['IFRAME', 'OBJECT', 'EMBED', 'BASE'].includes(el.tagName)) found.push(el.tagName);
    if (el.tagName === 'SCRIPT' && !el.src && el.type !== 'application/json') {
      found.push('inline SCRIPT');
    }
  }
  return found;
}"""
WIDTH = "() => [document.documentElement.scrollWidth, window.innerWidth]"


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> None:
    cache.clear()


def closed_with(
    world: World, *, content: str, reply: str, supplements: tuple[str, ...] = (), **fields: Any
) -> Appeal:
    """An appeal carrying ``content`` and ``supplements``, answered with ``reply``, closed."""
    appeal = in_progress(world, content=content, phone=CITIZEN_PHONE, **fields)
    for text in supplements:
        services.add_supplement(appeal=appeal, actor=world["agent"], text=text)
    services.reply_appeal(appeal=appeal, actor=world["town_handler"], reply=reply)
    services.approve_reply(appeal=appeal, actor=world["dispatcher"])
    return reload(appeal)


def watch(page: Page) -> list[str]:
    """Listen for dialogs (alert, confirm, prompt) and CSP violations on every page loaded."""
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.context.add_init_script(LISTEN)
    return dialogs


def assert_inert(page: Page, dialogs: list[str], *, csp: bool = True) -> None:
    assert page.evaluate(INJECTED) == []
    assert dialogs == []
    if csp:
        assert violations(page) == []


def follow(page: Page, base: str, appeal: Appeal) -> None:
    page.goto(base + "/track/")
    page.get_by_label("Tracking code").fill(appeal.tracking_code)
    page.get_by_label("The phone number you gave").fill(CITIZEN_PHONE)
    page.get_by_role("button", name="Show my appeal").click()
    expect(page).to_have_url(f"{base}/track/{appeal.tracking_code}/")


def test_hostile_strings_are_shown_literally_and_run_nothing(live_server: Any, pages: Any):
    # Given an appeal whose content and reply hold the whole corpus, one supplement per string
    world = make_world()
    corpus = tuple(hostile.STORED.values())
    appeal = closed_with(world, content=JOINED, reply=JOINED, supplements=corpus)
    base = live_server.url

    # When a supervisor opens its detail page under the site's real CSP
    staff = staff_login(pages, base, world["supervisor"], bypass_csp=False)
    dialogs = watch(staff)
    staff.goto(f"{base}/console/appeals/{appeal.pk}/")
    expect(staff.locator("h1 .tracking")).to_have_text(appeal.tracking_code)

    # Then content, reply and every supplement read exactly as stored, and nothing ran
    texts = staff.locator("p.prewrap").all_text_contents()
    assert texts[:2] == [hostile.as_browser_text(JOINED.strip())] * 2
    reasons = staff.locator(".timeline .reason, .reason").all_text_contents()
    for text in hostile.STORED.values():
        assert hostile.as_browser_text(text.strip()) in reasons
    assert_inert(staff, dialogs)

    # And the queue lists it without running anything either
    staff.goto(f"{base}/console/appeals/")
    expect(staff.locator(f"text={appeal.tracking_code}")).to_be_visible()
    assert_inert(staff, dialogs)

    # When the citizen follows the appeal on the portal
    citizen = pages(locale=EN, bypass_csp=False)
    citizen_dialogs = watch(citizen)
    follow(citizen, base, appeal)

    # Then the answer reads as written (its line breaks as <br>), and nothing ran
    shown = citizen.locator("p.reply").text_content()
    assert shown == hostile.as_browser_text(JOINED.strip()).replace("\n", "")
    assert_inert(citizen, citizen_dialogs)


def test_a_long_line_without_spaces_does_not_widen_a_phone_page(live_server: Any, pages: Any):
    # Given an appeal whose title, address, content and reply are single unbroken lines
    world = make_world()
    appeal = closed_with(
        world, content=LONG, reply=LONG, title=LONG[:100], address=LONG[:200], name="W" * 50
    )
    base = live_server.url

    # When staff open it on a phone
    staff = staff_login(pages, base, world["supervisor"], viewport=PHONE)
    staff.goto(f"{base}/console/appeals/{appeal.pk}/")
    expect(staff.locator("h1 .tracking")).to_have_text(appeal.tracking_code)

    # Then the whole line is there, wrapped: the page is no wider than the screen
    assert LONG in staff.locator("p.prewrap").first.text_content()
    scroll, viewport = staff.evaluate(WIDTH)
    assert scroll <= viewport, "console detail"
    staff.goto(f"{base}/console/appeals/")
    scroll, viewport = staff.evaluate(WIDTH)
    assert scroll <= viewport, "console queue"

    # And so is the citizen's tracking page
    citizen = pages(viewport=PHONE, locale=EN)
    follow(citizen, base, appeal)
    assert citizen.locator("p.reply").text_content() == LONG
    scroll, viewport = citizen.evaluate(WIDTH)
    assert scroll <= viewport, "portal tracking page"
