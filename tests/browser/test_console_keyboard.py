"""The console by keyboard alone: a hotline call registered with the type-to-search pickers and
the live caller history, a dispatch with a co-unit; axe-core on the pages with a picker open."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache
from playwright.sync_api import Page, expect

from minsheng.appeals import services
from minsheng.appeals.models import Appeal, AppealAssignment
from minsheng.org.models import User
from tests.browser.conftest import axe_violations
from tests.conftest import World, make_world

pytestmark = pytest.mark.django_db(transaction=True)

EN = "en-US"
PASSWORD = "Keyboard-pass-2024!"
CALLER = "13800138000"
ALL_IMPACTS = ("minor", "moderate", "serious", "critical")


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> None:
    cache.clear()  # caller look-ups are rate-limited per account


def keyboard_world() -> World:
    """The shared small city, with the pinyin initials the pickers match."""
    world = make_world()
    for unit, initials in ((world.town, "hxz"), (world.village, "dc"), (world.dept, "zjj")):
        unit.initials = initials
        unit.save()
    return world


def login(pages: Any, base: str, user: User) -> Page:
    """A desktop browser logged in through the real login form, by keyboard."""
    user.set_password(PASSWORD)
    user.save()
    page = pages(locale=EN)
    page.goto(base + "/console/login/")
    page.locator("input[name=username]").focus()
    page.keyboard.type(user.username)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page).to_have_url(base + "/console/")
    return page


def focused(page: Page) -> str:
    """What has the focus: a form field's name, a combobox's label, or a button's text."""
    return page.evaluate(
        """(() => {
          const e = document.activeElement;
          const label = e.labels && e.labels[0] ? e.labels[0].textContent.trim() : '';
          if (e.getAttribute('role') === 'combobox') return 'combobox:' + label;
          if (e.tagName === 'BUTTON') return 'button:' + e.textContent.trim();
          if (e.tagName === 'A') return 'link';
          return e.name || e.tagName;
        })()"""
    )


def tab_to(page: Page, target: str, limit: int = 30) -> list[str]:
    """Press Tab until ``target`` has the focus; the stops on the way, in order."""
    stops: list[str] = []
    while (not stops or stops[-1] != target) and len(stops) < limit:
        page.keyboard.press("Tab")
        stops.append(focused(page))
    assert stops[-1] == target, stops
    return stops


def earlier_call(world: World) -> Appeal:
    return services.submit_appeal(
        actor=world["agent"],
        channel="hotline",
        appeal_type="complaint",
        content="Street light out at the bus stop",
        phone=CALLER,
        name="王小明",
        category=world.road,
        territory=world.village,
    )


# ---------------------------------------------------------------- 1. a hotline call


def test_hotline_call_registered_by_keyboard_alone(live_server, pages):
    world = keyboard_world()
    earlier = earlier_call(world)
    base = live_server.url
    # Given the intake screen, its focus on the caller's phone
    page = login(pages, base, world["agent"])
    page.goto(base + "/console/intake/")
    assert focused(page) == "phone"

    # When the agent types the caller's number
    page.keyboard.type(CALLER)

    # Then the caller's earlier appeal appears under the field, name masked
    history = page.locator("#caller-history")
    expect(history.get_by_role("link", name=earlier.tracking_code)).to_be_visible()
    expect(history).to_contain_text("王**")
    expect(history).not_to_contain_text("王小明")

    # When they Tab on to the category picker
    stops = tab_to(page, "combobox:Category")
    assert stops == [
        "button:Show previous appeals",
        "link",
        "name",
        "anonymous",
        "channel",
        "appeal_type",
        "urgency",
        "combobox:Category",
    ]
    category = page.get_by_role("combobox", name="Category")
    options = page.get_by_role("listbox", name="Category").get_by_role("option")

    # … open its list with ArrowDown, move, and close it with Escape: nothing is chosen
    page.keyboard.press("ArrowDown")
    expect(category).to_have_attribute("aria-expanded", "true")
    expect(options).to_have_text(["道路 · 城乡建设", "噪音 · 环境保护"])
    expect(options.first).to_have_attribute("aria-selected", "true")
    page.keyboard.press("ArrowDown")
    expect(options.nth(1)).to_have_attribute("aria-selected", "true")
    expect(options.first).to_have_attribute("aria-selected", "false")
    page.keyboard.press("Escape")
    expect(category).to_have_attribute("aria-expanded", "false")
    expect(category).to_have_value("")

    # … type the category's code and press Enter
    page.keyboard.type("0101")
    expect(options).to_have_text(["道路 · 城乡建设"])
    active = category.get_attribute("aria-activedescendant")
    expect(page.locator(f"#{active}")).to_have_text("道路 · 城乡建设")
    page.keyboard.press("Enter")
    expect(category).to_have_value("道路")
    expect(category).to_have_attribute("aria-expanded", "false")

    # … then Tab to the place and type its pinyin initials, "dc" for 东村
    assert tab_to(page, "combobox:Place") == ["combobox:Place"]
    page.keyboard.type("dc")
    places = page.get_by_role("listbox", name="Place").get_by_role("option")
    expect(places).to_have_text(["东村 · 和兴镇"])
    page.keyboard.press("Enter")
    expect(page.get_by_role("combobox", name="Place")).to_have_value("东村")

    # Then the catalogue's suggestion for 道路 in 东村 is shown
    expect(page.locator("#suggestion")).to_contain_text("和兴镇")

    # When they type the address and what the caller says, and Tab to "Register"
    page.keyboard.press("Tab")
    assert focused(page) == "address"
    page.keyboard.type("Bus stop by the village gate")
    page.keyboard.press("Tab")
    page.keyboard.type("The street light has been out for a week.")
    assert tab_to(page, "button:Register") == ["photos", "button:Register"]
    page.keyboard.press("Enter")

    # Then the appeal is registered with what was chosen by typing
    expect(page.get_by_role("heading", level=1)).to_contain_text("Appeal")
    appeal = Appeal.objects.exclude(pk=earlier.pk).get()
    assert page.url == f"{base}/console/appeals/{appeal.pk}/"
    assert (appeal.category_id, appeal.territory_id) == (world.road.pk, world.village.pk)
    assert appeal.citizen_phone == CALLER
    assert appeal.content == "The street light has been out for a week."
    assert appeal.address == "Bus stop by the village gate"


def test_dispatcher_gets_the_suggested_unit_filled_in_and_keeps_a_unit_chosen(live_server, pages):
    world = keyboard_world()
    base = live_server.url
    # Given a dispatcher on the intake screen
    page = login(pages, base, world["dispatcher"])
    page.goto(base + "/console/intake/")
    unit = page.get_by_role("combobox", name="Dispatch to (lead unit)")
    expect(unit).to_have_value("")

    # When they choose 道路 in 东村 by typing
    for label, typed in (("Category", "道路"), ("Place", "dc")):
        page.get_by_role("combobox", name=label).focus()
        page.keyboard.type(typed)
        page.keyboard.press("Enter")

    # Then the lead unit is filled in with the catalogue's 和兴镇
    expect(unit).to_have_value("和兴镇")
    expect(page.locator("select[name=unit]")).to_have_value(str(world.town.pk))

    # When they choose another unit themselves and then change the category
    unit.focus()
    page.keyboard.type("zjj")
    page.keyboard.press("Enter")
    expect(unit).to_have_value("住建局")
    page.get_by_role("combobox", name="Category").focus()
    page.keyboard.type("噪音")
    page.keyboard.press("Enter")

    # Then the new suggestion is shown, but their choice stays
    expect(page.locator("#suggestion")).to_contain_text("环保局")
    expect(unit).to_have_value("住建局")

    # When they fill in the rest and choose "Register and dispatch"
    page.get_by_label("Phone", exact=True).fill(CALLER)
    page.get_by_label("What the caller says").fill("Loud music every night.")
    page.get_by_role("button", name="Register and dispatch").click()

    # Then the appeal goes to the unit they chose
    expect(page.locator("h1 .badge")).to_have_text("Dispatched")
    appeal = Appeal.objects.get()
    assert (appeal.category_id, appeal.lead_unit_id) == (world.noise.pk, world.dept.pk)


# ---------------------------------------------------------------- 2. dispatch with a co-unit


def test_dispatch_with_a_co_unit_by_keyboard_alone(live_server, pages):
    world = keyboard_world()
    appeal = earlier_call(world)
    base = live_server.url
    # Given the appeal's page, the focus on the dispatch form's lead unit
    page = login(pages, base, world["dispatcher"])
    page.goto(f"{base}/console/appeals/{appeal.pk}/")
    dispatch = page.locator("form[data-action='dispatch']")
    dispatch.get_by_role("combobox", name="Lead unit").focus()

    # When the dispatcher types the township's initials and presses Enter
    page.keyboard.type("hxz")
    page.keyboard.press("Enter")
    expect(dispatch.get_by_role("combobox", name="Lead unit")).to_have_value("和兴镇")

    # … Tabs to the co-units, types "zjj" (住建局) and presses Enter
    page.keyboard.press("Tab")
    co_units = dispatch.get_by_role("combobox", name="Co-units (optional)")
    expect(co_units).to_be_focused()
    page.keyboard.type("zjj")
    listbox = dispatch.get_by_role("listbox", name="Co-units (optional)")
    expect(listbox.get_by_role("option")).to_have_text(["住建局"])
    page.keyboard.press("Enter")

    # Then 住建局 is listed as chosen, with a button to remove it
    remove = dispatch.get_by_role("button", name="Remove 住建局")
    expect(remove).to_be_visible()
    expect(co_units).to_have_value("")

    # When they Tab past it and the note to "Dispatch" and press Enter
    assert tab_to(page, "button:Dispatch") == ["button:×", "note", "button:Dispatch"]
    page.keyboard.press("Enter")

    # Then the appeal is dispatched to 和兴镇 with 住建局 as co-unit
    expect(page.locator("h1 .badge")).to_have_text("Dispatched")
    assert sorted(
        AppealAssignment.objects.filter(appeal=appeal, active=True).values_list(
            "unit__name", "role"
        )
    ) == [("住建局", "co"), ("和兴镇", "lead")]


# ---------------------------------------------------------------- 3. accessibility


def test_intake_and_detail_have_no_accessibility_violations_with_pickers_open_or_closed(
    live_server, pages
):
    world = keyboard_world()
    appeal = earlier_call(world)
    base = live_server.url
    found: dict[str, list[str]] = {}

    def check(page: Page, name: str) -> None:
        found[name] = axe_violations(page, impacts=ALL_IMPACTS)

    # The intake screen: closed, a picker open, history shown, a choice made
    agent = login(pages, base, world["agent"])
    agent.goto(base + "/console/intake/")
    check(agent, "intake")
    agent.get_by_role("combobox", name="Place").focus()
    agent.keyboard.type("h")
    expect(agent.get_by_role("combobox", name="Place")).to_have_attribute("aria-expanded", "true")
    check(agent, "intake, place picker open")
    agent.keyboard.type("qqq")
    expect(agent.get_by_text("No match")).to_be_visible()
    check(agent, "intake, no match")
    agent.keyboard.press("Escape")
    agent.get_by_label("Phone", exact=True).fill(CALLER)
    expect(agent.locator("#caller-history").get_by_role("link")).to_have_count(1)
    check(agent, "intake, caller history")

    # The detail page of a dispatcher: closed, the co-unit picker open, a co-unit chosen
    dispatcher = login(pages, base, world["dispatcher"])
    dispatcher.goto(f"{base}/console/appeals/{appeal.pk}/")
    check(dispatcher, "detail")
    co_units = dispatcher.get_by_role("combobox", name="Co-units (optional)")
    co_units.focus()
    dispatcher.keyboard.press("ArrowDown")
    expect(co_units).to_have_attribute("aria-expanded", "true")
    check(dispatcher, "detail, co-unit picker open")
    dispatcher.keyboard.press("Enter")
    expect(dispatcher.locator(".picker-chips li")).to_have_count(1)
    check(dispatcher, "detail, co-unit chosen")

    bad = {name: lines for name, lines in found.items() if lines}
    assert bad == {}, "\n".join(f"{name}: {line}" for name, ls in bad.items() for line in ls)
