"""Supervision (催办/督办, issue 4) in a real browser: what staff see of deadline warnings, a
supervision order issued by hand, and the unit leader's bell.

The live server runs on the real clock, so the appeals are placed in the past with
``clock.replaying`` (as tests/supervision does) at distances from now that put them where each
test needs them, and the sweep runs once at the real "now", as the worker would.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from playwright.sync_api import Locator, Page, expect

from minsheng.appeals.choices import TimeUnit, Urgency
from minsheng.appeals.models import Appeal, AppealEvent
from minsheng.core import calendar
from minsheng.notify.models import Notification
from minsheng.supervision import services as supervision
from minsheng.supervision.models import DeadlineWarning, SupervisionOrder
from tests.browser.conftest import axe_violations
from tests.browser.test_journeys import search_queue, staff_login
from tests.conftest import make_world
from tests.supervision.helpers import accepted_at, actions

pytestmark = pytest.mark.django_db(transaction=True)

ORDER_REASON = "Residents have called five times; report what was done by tomorrow."


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> None:
    cache.clear()


def shown(value: Any) -> str:
    """A datetime as the console prints it (Asia/Shanghai, minutes)."""
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")


def supervision_region(page: Page) -> Locator:
    return page.get_by_role("region", name="Supervision")


def complete_by(page: Page) -> Locator:
    """The "Complete by" fact of the detail page (its value cell)."""
    return page.locator("dl.facts dt", has_text="Complete by").locator(
        "xpath=following-sibling::dd[1]"
    )


def open_detail(page: Page, base: str, appeal: Appeal) -> None:
    page.goto(f"{base}/console/appeals/{appeal.pk}/")
    expect(page.locator("h1 .tracking")).to_have_text(appeal.tracking_code)


def bell(page: Page) -> Locator:
    return page.get_by_role("navigation", name="Main").locator("a.bell")


# ---------------------------------------------------------------- warnings


def test_yellow_and_red_warnings_are_shown_in_words_on_the_queue_and_detail(live_server, pages):
    world = make_world()
    base = live_server.url
    now = timezone.now()
    # Given an urgent appeal (24-hour limit) accepted 20 hours ago: 4 of 24 hours left, so
    # more than 75% is used …
    yellow = accepted_at(
        world,
        now - timedelta(hours=20),
        urgency=Urgency.CRITICAL,
        content="Burst water main flooding the village road",
    )
    # … an ordinary one (5 working days) accepted 30 days ago: overdue …
    red = accepted_at(world, now - timedelta(days=30), content="Street light out for a month")
    # … and one accepted just now, with all its time ahead
    fresh = accepted_at(world, now, content="Rubbish bins overflowing at the market")
    assert yellow.due_at is not None and now < yellow.due_at < now + timedelta(hours=5)
    assert red.due_at is not None and red.due_at < now

    # When the worker's deadline sweep runs
    report = supervision.sweep(now=timezone.now())

    # Then it raised one yellow and one red warning (with a reminder and a supervision order)
    assert report.as_dict() == {
        "yellow": 1,
        "red": 1,
        "reminders": 1,
        "orders": 1,
        "escalations": 0,
        "cleared": 0,
        "skipped": 0,
        "stale_deliveries": 0,
    }
    assert list(
        DeadlineWarning.objects.order_by("appeal_id").values_list("appeal_id", "level")
    ) == [(yellow.pk, "yellow"), (red.pk, "red")]
    page = staff_login(pages, base, world["supervisor"])

    # When the supervisor searches the queue for the overdue appeal
    row = search_queue(page, red.tracking_code)

    # Then its deadline carries the word "overdue"
    expect(row.locator(".badge.overdue")).to_have_text("overdue")
    # … which neither the yellow nor the fresh appeal's row carries
    for calm in (yellow, fresh):
        expect(search_queue(page, calm.tracking_code).locator(".badge.overdue")).to_have_count(0)
    # … the yellow one's deadline says "Yellow warning" instead, and the fresh one's nothing
    expect(search_queue(page, yellow.tracking_code).locator(".badge.warning")).to_have_text(
        "Yellow warning"
    )
    expect(search_queue(page, fresh.tracking_code).locator(".badge.warning")).to_have_count(0)
    expect(search_queue(page, red.tracking_code).locator(".badge.warning")).to_have_count(0)

    # When they open the appeal with 4 hours left
    open_detail(page, base, yellow)

    # Then the Supervision panel says "Yellow warning" about the completion deadline
    panel = supervision_region(page)
    expect(panel.locator("li")).to_have_count(1)
    expect(panel.locator("li")).to_contain_text(
        f"Yellow warning Completion deadline: {shown(yellow.due_at)}"
    )
    expect(panel).not_to_contain_text("Red warning")
    # … the deadline itself is still running (time left, not overdue)
    expect(complete_by(page)).to_contain_text("left")
    expect(complete_by(page)).not_to_contain_text("overdue")
    # … and the history records the system's reminder to the unit
    last = page.locator("ol.timeline li").last
    expect(last).to_contain_text("Reminder sent")
    expect(last).to_contain_text("System")
    expect(last).to_contain_text(yellow.tracking_code)
    expect(last).to_contain_text(shown(yellow.due_at))
    assert axe_violations(page) == []

    # When they open the overdue appeal
    open_detail(page, base, red)

    # Then the panel says "Red warning", the deadline is "overdue by …", and the sweep's
    # supervision order to 和兴镇 is listed with its answer deadline, not answered yet
    panel = supervision_region(page)
    expect(panel.locator("li")).to_have_count(1)
    expect(panel.locator("li")).to_contain_text(
        f"Red warning Completion deadline: {shown(red.due_at)}"
    )
    expect(complete_by(page).locator(".badge.overdue")).to_contain_text("overdue by")
    order = SupervisionOrder.objects.get(appeal=red)
    assert order.automatic and order.unit_id == world.town.pk
    card = panel.locator(".order")
    expect(card.get_by_role("heading", name="Supervision order · 和兴镇")).to_be_visible()
    expect(card).to_contain_text("Issued automatically")
    expect(card).to_contain_text(f"answer by {shown(order.response_due_at)}")
    expect(card).to_contain_text("Not answered yet")
    expect(page.locator("ol.timeline li").last).to_contain_text("Supervision order issued")

    # When they open the fresh appeal
    open_detail(page, base, fresh)

    # Then it shows no warning at all
    expect(page.get_by_text("Yellow warning")).to_have_count(0)
    expect(page.get_by_text("Red warning")).to_have_count(0)
    assert actions(fresh) == ["submit", "dispatch", "accept"]


# ---------------------------------------------------------------- a supervision order by hand


def test_supervisor_orders_by_hand_and_the_unit_leader_hears_of_it(live_server, pages):
    world = make_world()
    base = live_server.url
    # Given an appeal in progress at 和兴镇, and the township's leader with nothing unread
    appeal = accepted_at(world, timezone.now() - timedelta(hours=1))
    leader = staff_login(pages, base, world["town_leader"])
    expect(bell(leader)).to_have_accessible_name("Notifications")
    expect(bell(leader).locator(".badge")).to_have_count(0)

    # When the supervisor opens the appeal and issues a supervision order with a reason
    supervisor = staff_login(pages, base, world["supervisor"])
    open_detail(supervisor, base, appeal)
    form = supervisor.locator("form[data-supervision='supervise']")
    form.get_by_label("Reason for the supervision order").fill(ORDER_REASON)
    form.get_by_role("button", name="Issue a supervision order").click()

    # Then the page confirms it …
    expect(supervisor.get_by_role("status")).to_have_text(
        f"{appeal.tracking_code}: supervision order issued."
    )
    # … with an answer deadline of one working day (MINSHENG_SUPERVISION_RESPONSE_DAYS)
    order = SupervisionOrder.objects.get(appeal=appeal)
    assert order.response_due_at == calendar.add_limit(
        order.issued_at, settings.MINSHENG_SUPERVISION_RESPONSE_DAYS, TimeUnit.WORKING_DAYS
    )
    assert (order.automatic, order.issued_by_id, order.unit_id, order.reason) == (
        False,
        world["supervisor"].pk,
        world.town.pk,
        ORDER_REASON,
    )
    answer_by = timezone.localtime(order.response_due_at)
    # … the history ends with the order, the supervisor, the unit and the reason …
    last = supervisor.locator("ol.timeline li").last
    expect(last.locator("strong")).to_have_text("Supervision order issued")
    expect(last).to_contain_text("supervisor · 和兴镇")
    expect(last.locator(".reason")).to_have_text(ORDER_REASON)
    event = AppealEvent.objects.filter(appeal=appeal).latest("at", "pk")
    assert event.action == "supervise"
    assert datetime.fromisoformat(event.data["response_due_at"]) == order.response_due_at
    # … and the Supervision panel lists the order with that answer deadline
    card = supervision_region(supervisor).locator(".order")
    expect(card).to_have_count(1)
    expect(card).to_contain_text(ORDER_REASON)
    deadline = card.locator("time").last
    expect(deadline).to_have_attribute("datetime", answer_by.isoformat())
    expect(card).to_contain_text(f"answer by {answer_by:%Y-%m-%d %H:%M}")
    assert axe_violations(supervisor) == []

    # When the leader's console is loaded again
    leader.reload()

    # Then the bell counts one unread notification, in words for screen readers too
    expect(bell(leader).locator(".badge.count")).to_have_text("1 unread")
    expect(bell(leader)).to_have_accessible_name("Notifications 1 unread")

    # When the leader follows the bell
    bell(leader).click()

    # Then the order is listed as new, naming the appeal, the reason and the answer deadline
    expect(leader.get_by_role("heading", level=1)).to_have_text("Notifications")
    expect(leader.get_by_text("1 unread notification.")).to_be_visible()
    note = Notification.objects.get(recipient=world["town_leader"])
    assert (note.kind, note.appeal_id, note.read_at) == ("supervision.order", appeal.pk, None)
    item = leader.locator(f"#notification-{note.pk}")
    expect(item.locator(".badge")).to_have_text("New")
    expect(item).to_contain_text(appeal.tracking_code)
    expect(item).to_contain_text(ORDER_REASON)
    expect(item).to_contain_text(f"{answer_by:%Y-%m-%d %H:%M}")
    assert axe_violations(leader) == []

    # When they open it: its link leads to the appeal, where the order waits for their answer
    item.get_by_role("link", name=note.title).click()
    expect(leader.locator("h1 .tracking")).to_have_text(appeal.tracking_code)
    expect(
        supervision_region(leader).get_by_role("link", name="Answer this supervision order")
    ).to_be_visible()

    # Then opening the appeal has read the notification: the bell on the appeal's page is clear
    expect(bell(leader)).to_have_accessible_name("Notifications")
    expect(bell(leader).locator(".badge")).to_have_count(0)
    note.refresh_from_db()
    assert note.read_at is not None

    # … and back on the list it is no longer new, still listed, with nothing left to mark
    leader.go_back()
    leader.reload()
    item = leader.locator(f"#notification-{note.pk}")
    expect(item).to_contain_text(appeal.tracking_code)
    expect(item.locator(".badge")).to_have_count(0)
    expect(item.get_by_role("button", name="Mark as read")).to_have_count(0)
    # … and the supervisor, who issued it, heard nothing (the order goes to the unit's leaders)
    assert not Notification.objects.filter(recipient=world["supervisor"]).exists()
