"""Smart dispatch's fragments (issue 5) in a real browser: category and unit suggestions as a
hotline call is typed, and 并单 (probable duplicates) at intake and on the appeal's page, with
the one-click merge.

The model is a tiny one trained in the test on made-up sentences, in a model directory of the
test's own (the ``model_dir`` fixture of tests/dispatch), as the dispatch tests do.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.cache import cache
from playwright.sync_api import Locator, Page, expect

from minsheng.appeals.choices import Status
from minsheng.appeals.models import Appeal
from minsheng.dispatch import duplicates, services
from tests.appeals.factories import reload, submitted
from tests.browser.test_journeys import actions_of, staff_login, status_badge
from tests.conftest import make_world
from tests.dispatch.conftest import model_dir  # noqa: F401 — autouse: a model dir of its own
from tests.dispatch.factories import ROAD_TEXT
from tests.dispatch.test_api_console import train
from tests.dispatch.test_duplicates import LEAK, LEAK_AGAIN, OTHER

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> None:
    cache.clear()


def region(page: Page, name: str) -> Locator:
    return page.get_by_role("region", name=name)


def choose_place(page: Page, name: str) -> None:
    """The intake's place picker: type the name, take the match with Enter."""
    place = page.get_by_role("combobox", name="Place")
    place.fill(name)
    place.press("Enter")
    expect(place).to_have_value(name)


# ---------------------------------------------------------------- category suggestions


def test_intake_suggests_categories_and_the_unit_as_the_call_is_typed(
    live_server, pages, tmp_path: Path
):
    world = make_world()
    base = live_server.url
    train(tmp_path)
    expected = services.suggest(ROAD_TEXT, territory=world.village)
    assert [s.label for s in expected] == ["城乡建设", "环境保护"]
    # Given a hotline agent on the intake screen, the place chosen, nothing typed yet
    page = staff_login(pages, base, world["agent"])
    page.goto(base + "/console/intake/")
    suggestions = region(page, "Suggested categories")
    expect(suggestions).to_contain_text("Type what the caller says to see suggested categories.")
    choose_place(page, "东村")

    # When the agent types what the caller says
    page.get_by_label("What the caller says").fill(ROAD_TEXT)

    # Then the likeliest categories appear, most likely first, each with its confidence, and
    # the catalogue's unit for the first one
    items = suggestions.get_by_role("listitem")
    expect(items).to_have_count(2)
    expect(items.first).to_contain_text(f"城乡建设 confidence {expected[0].percent}%")
    expect(items.first).to_contain_text("suggested unit: 住建局")
    expect(items.nth(1)).to_contain_text(f"环境保护 confidence {expected[1].percent}%")
    expect(items.nth(1)).not_to_contain_text("suggested unit")
    assert expected[0].percent > expected[1].percent
    expect(suggestions).to_contain_text("check before dispatching")

    # When the text changes to another matter
    page.get_by_label("What the caller says").fill("楼下工地噪声扰民，夜间施工，工地扬尘严重")

    # Then the suggestions follow it
    expect(items.first).to_contain_text("环境保护")


# ---------------------------------------------------------------- duplicates


def test_intake_lists_a_probable_duplicate_of_what_is_typed(live_server, pages):
    world = make_world()
    base = live_server.url
    earlier = submitted(world, content=LEAK, territory=world.village)
    submitted(world, content=OTHER, territory=world.village)
    [expected] = duplicates.related(world["agent"], text=LEAK_AGAIN, territory=world.village)
    # Given the intake screen with the caller's place chosen
    page = staff_login(pages, base, world["agent"])
    page.goto(base + "/console/intake/")
    choose_place(page, "东村")

    # When the agent types the caller's words, much like the earlier appeal's
    page.get_by_label("What the caller says").fill(LEAK_AGAIN)

    # Then that appeal, and only that one, is listed as a possible duplicate with its score
    found = region(page, "Possible duplicates").get_by_role("listitem")
    expect(found).to_have_count(1)
    expect(found.get_by_role("link", name=earlier.tracking_code)).to_be_visible()
    expect(found).to_contain_text(f"similarity {expected.percent}%")
    expect(found).to_contain_text("same place")
    # … and the hotline agent (who may not merge) is offered no merge button
    expect(found.get_by_role("button")).to_have_count(0)


def test_detail_page_lists_a_duplicate_and_one_click_merges_it(live_server, pages):
    world = make_world()
    base = live_server.url
    # Given two open appeals about the same burst pipe in 东村, and an unrelated one there
    first = submitted(world, content=LEAK, territory=world.village)
    unrelated = submitted(world, content=OTHER, territory=world.village)
    again = submitted(world, content=LEAK_AGAIN, territory=world.village)
    [expected] = duplicates.related(
        world["dispatcher"], text=again.content, territory=world.village, exclude=again.pk
    )
    assert expected.appeal.pk == first.pk
    # … and the dispatcher on the later appeal's page
    page = staff_login(pages, base, world["dispatcher"])
    page.goto(f"{base}/console/appeals/{again.pk}/")
    expect(status_badge(page)).to_have_text("Received")

    # Then the earlier one is listed as a possible duplicate, with its score; the unrelated
    # one is not
    panel = region(page, "Possible duplicates")
    found = panel.get_by_role("listitem")
    expect(found).to_have_count(1)
    expect(found.get_by_role("link", name=first.tracking_code)).to_be_visible()
    expect(found).to_contain_text(f"similarity {expected.percent}%")
    expect(found).to_contain_text("same place · Received")
    expect(panel).not_to_contain_text(unrelated.tracking_code)

    # When they click "Merge into …" on it
    found.get_by_role("button", name=f"Merge into {first.tracking_code}").click()

    # Then the appeal is merged into the earlier one, and its history ends with the merge
    expect(page.get_by_role("status")).to_contain_text(again.tracking_code)
    expect(status_badge(page)).to_have_text("Merged")
    merged_into = page.locator("dl.facts dt", has_text="Merged into").locator(
        "xpath=following-sibling::dd[1]"
    )
    expect(merged_into.get_by_role("link", name=first.tracking_code)).to_be_visible()
    expect(page.locator("ol.timeline li").last.locator("strong")).to_have_text("Merged")
    expect(page.locator("ol.timeline li").last).to_contain_text("dispatcher")
    # … the duplicates panel is gone from the finished appeal
    expect(region(page, "Possible duplicates")).to_have_count(0)
    # … and the database agrees; the earlier appeal stays open
    merged = reload(again)
    assert (merged.status, merged.merged_into_id) == (Status.MERGED, first.pk)
    assert actions_of(merged) == ["submit", "merge"]
    assert Appeal.objects.get(pk=first.pk).status == Status.RECEIVED
