"""Real-browser journeys through the citizen portal and the staff console (issue 3).

Every test builds its own small city (``make_world``), drives Debian's Chromium against the
live server and checks both what people see and what the database holds afterwards.

The UI is Chinese by default and translations land while these tests are written, so every
context asks for English (``locale="en-US"``) and elements are found by role + English name or
by stable attributes (``name=``, ``data-action=``, ids); one test submits in the default
Chinese UI using stable attributes only.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core.cache import cache
from django.utils import timezone
from playwright.sync_api import Page, expect

from minsheng.appeals import services
from minsheng.appeals.choices import Channel, Status, TimeUnit
from minsheng.appeals.models import Appeal, AppealEvent, ExtensionRequest
from minsheng.core import calendar
from minsheng.org.models import User
from tests.browser.conftest import PHONE, axe_violations, finish_two_factor
from tests.conftest import World, make_world

pytestmark = pytest.mark.django_db(transaction=True)

EN = "en-US"
PASSWORD = "Journey-pass-2024!"
CITIZEN_PHONE = "13800138000"
DONE_URL = re.compile(r"/appeal/done/[0-9A-Z]+/$")


# ---------------------------------------------------------------- helpers


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> None:
    # Look-ups by tracking code are rate-limited per address; every test starts with none.
    cache.clear()


def staff_login(pages: Any, base: str, user: User, **options: Any) -> Page:
    """A desktop browser of its own, logged in through the real login form."""
    user.set_password(PASSWORD)
    user.save()
    page = pages(locale=EN, **options)
    page.goto(base + "/console/login/")
    page.locator("input[name=username]").fill(user.username)
    page.locator("input[name=password]").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    finish_two_factor(page, user)  # staff login security: a real TOTP code where required
    expect(page).to_have_url(base + "/console/")
    expect(page.get_by_role("heading", level=1)).to_have_text("My work")
    return page


def status_badge(page: Page) -> Any:
    return page.locator("h1 .badge")


def action_form(page: Page, name: str) -> Any:
    return page.locator(f"form[data-action='{name}']")


def search_queue(page: Page, code: str) -> Any:
    """From anywhere in the console: the queue, searched by tracking code; its one row."""
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Queue").click()
    page.get_by_label("Text or tracking code").fill(code)
    page.get_by_role("button", name="Filter", exact=True).click()
    rows = page.locator("table.queue tbody tr")
    expect(rows).to_have_count(1)
    return rows


def open_in_queue(page: Page, code: str) -> None:
    """The appeal, opened from its row in the searched queue."""
    search_queue(page, code).get_by_role("link", name=code).click()
    expect(page.locator("h1 .tracking")).to_have_text(code)


def fill_submit_form(page: Page, world: World, *, text: str, phone: str) -> None:
    """The portal's submit form, filled by label as a citizen reads it (English UI)."""
    page.get_by_role("radio", name="Complaint: something is wrong").check()
    page.get_by_label("Topic").select_option(value=str(world.road.pk))
    page.get_by_label("Where is it?").select_option(value=str(world.village.pk))
    page.get_by_label("Street address or landmark").fill("East gate of the market")
    page.get_by_label("Tell us what happened").fill(text)
    page.get_by_label("Your phone number").fill(phone)


def citizen_submits(page: Page, base: str, world: World, *, text: str) -> str:
    """From the portal's home page to the confirmation; returns the code as displayed."""
    page.goto(base + "/")
    page.get_by_role("main").get_by_role("link", name="Submit an appeal").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Submit an appeal")
    fill_submit_form(page, world, text=text, phone=CITIZEN_PHONE)
    page.get_by_role("button", name="Send my appeal").click()
    expect(page).to_have_url(DONE_URL)
    expect(page.get_by_role("heading", level=1)).to_have_text("Your appeal has been received")
    return page.locator("#tracking-code").inner_text()


def make_appeal(world: World, *, text: str = "Pothole outside the school gate") -> Appeal:
    return services.submit_appeal(
        actor=None,
        channel=Channel.WEB_PORTAL,
        appeal_type="complaint",
        content=text,
        phone=CITIZEN_PHONE,
        category=world.road,
        territory=world.village,
    )


def dispatched_to_town(world: World) -> Appeal:
    appeal = make_appeal(world)
    services.dispatch_appeal(appeal=appeal.pk, actor=world["dispatcher"], unit=world.town)
    return Appeal.objects.get(pk=appeal.pk)


def in_progress_at_town(world: World) -> Appeal:
    appeal = dispatched_to_town(world)
    services.accept_appeal(appeal=appeal.pk, actor=world["town_handler"])
    return Appeal.objects.get(pk=appeal.pk)


def actions_of(appeal: Appeal) -> list[str]:
    return list(
        AppealEvent.objects.filter(appeal=appeal)
        .order_by("at", "id")
        .values_list("action", flat=True)
    )


def snapshot(appeal: Appeal) -> dict[str, Any]:
    row = Appeal.objects.filter(pk=appeal.pk).values().get()
    return {**row, "events": actions_of(appeal)}


# ---------------------------------------------------------------- 1. the full journey


def test_full_journey_from_phone_submission_to_rated_and_closed(live_server, pages):
    world = make_world()
    base = live_server.url

    # Given a citizen on a phone-sized browser
    citizen = pages(viewport=PHONE, locale=EN)

    # When they submit an appeal about a road in 东村 and read the code on the confirmation
    shown = citizen_submits(citizen, base, world, text="Deep pothole on the village road")
    code = shown.replace(" ", "")

    # Then the code shown (grouped for reading aloud) is the appeal's tracking code
    appeal = Appeal.objects.get()
    assert code == appeal.tracking_code
    assert re.fullmatch(r"[0-9A-Z]{3} [0-9A-Z]{3} [0-9A-Z]{4}", shown)
    assert appeal.status == Status.RECEIVED
    assert appeal.channel == Channel.WEB_PORTAL
    assert appeal.citizen_phone == CITIZEN_PHONE

    # When the dispatcher (desktop) finds it in the queue and dispatches it to 和兴镇
    dispatcher = staff_login(pages, base, world["dispatcher"])
    open_in_queue(dispatcher, code)
    expect(status_badge(dispatcher)).to_have_text("Received")
    dispatch = action_form(dispatcher, "dispatch")
    dispatch.get_by_role("combobox", name="Lead unit").fill("和兴镇")  # type to search
    dispatch.get_by_role("combobox", name="Lead unit").press("Enter")
    dispatch.get_by_role("button", name="Dispatch", exact=True).click()

    # Then it is dispatched to the township
    expect(status_badge(dispatcher)).to_have_text("Dispatched")
    expect(dispatcher.get_by_role("status")).to_have_text(f"{code}: Dispatched.")

    # When the township handler logs in, follows "To accept", accepts and replies
    handler = staff_login(pages, base, world["town_handler"])
    to_accept = handler.locator("a[data-key='to_accept']")
    expect(to_accept).to_contain_text("1")
    to_accept.click()
    handler.locator("table.queue").get_by_role("link", name=code).click()
    action_form(handler, "accept").get_by_role("button", name="Accept").click()
    expect(status_badge(handler)).to_have_text("In progress")
    reply = action_form(handler, "reply")
    reply.get_by_label("Reply to the citizen").fill("The pothole was filled on Monday.")
    reply.get_by_role("button", name="Send the reply for review").click()

    # Then the reply waits for the center's review
    expect(status_badge(handler)).to_have_text("Replied")

    # When the supervisor follows "Replies awaiting review" and approves the reply
    supervisor = staff_login(pages, base, world["supervisor"])
    supervisor.locator("a[data-key='replied']").click()
    supervisor.locator("table.queue").get_by_role("link", name=code).click()
    approve = action_form(supervisor, "approve_reply")
    approve.get_by_role("button", name="Approve the reply and close").click()

    # Then the appeal is closed
    expect(status_badge(supervisor)).to_have_text("Closed")

    # When the citizen, on another phone, follows the appeal by tracking code + phone
    later = pages(viewport=PHONE, locale=EN)
    later.goto(base + "/")
    later.get_by_role("main").get_by_role("link", name="Follow my appeal").click()
    later.get_by_label("Tracking code").fill(shown)
    later.get_by_label("The phone number you gave").fill(CITIZEN_PHONE)
    later.get_by_role("button", name="Show my appeal").click()

    # Then they see it finished, with the answer, and may rate it
    expect(later).to_have_url(f"{base}/track/{code}/")
    expect(later.locator(".status-line .badge")).to_have_text("Closed")
    expect(later.locator("p.reply")).to_have_text("The pothole was filled on Monday.")

    # When they rate it satisfied / solved
    later.get_by_role("radio", name="Satisfied", exact=True).check()
    later.get_by_role("radio", name="Yes, it was solved").check()
    later.get_by_role("button", name="Send my answer").click()

    # Then the portal thanks them and the rating form is gone
    expect(later.get_by_role("status")).to_have_text("Thank you for your answer.")
    expect(later.get_by_role("button", name="Send my answer")).to_have_count(0)
    expect(later.locator("ol.timeline li").last).to_have_attribute("data-action", "rate")
    # … and the public timeline shows no staff names
    timeline = later.locator("ol.timeline").inner_text()
    for staff in ("dispatcher", "town_handler", "supervisor"):
        assert staff not in timeline

    # When the dispatcher looks at the appeal again
    dispatcher.reload()

    # Then the console shows it closed, with the citizen's rating
    expect(status_badge(dispatcher)).to_have_text("Closed")
    expect(dispatcher.get_by_role("region", name="Reply")).to_contain_text("Rating: Satisfied")
    expect(search_queue(dispatcher, code).locator(".badge")).to_have_text("Closed")

    # And the database agrees, with every step recorded in order
    appeal.refresh_from_db()
    assert appeal.status == Status.CLOSED
    assert appeal.rating == "satisfied"
    assert appeal.solved is True
    assert appeal.lead_unit_id == world.town.pk
    assert appeal.reply == "The pothole was filled on Monday."
    assert actions_of(appeal) == ["submit", "dispatch", "accept", "reply", "approve_reply", "rate"]
    actors = list(
        AppealEvent.objects.filter(appeal=appeal)
        .order_by("at", "id")
        .values_list("actor__username", flat=True)
    )
    assert actors == [None, "dispatcher", "town_handler", "town_handler", "supervisor", None]


# ---------------------------------------------------------------- 2. return and redispatch


def test_return_then_redispatch_to_another_unit(live_server, pages):
    world = make_world()
    base = live_server.url
    # Given an appeal dispatched to 和兴镇
    appeal = dispatched_to_town(world)
    code = appeal.tracking_code

    # When the township handler returns it with a reason
    handler = staff_login(pages, base, world["town_handler"])
    open_in_queue(handler, code)
    back = action_form(handler, "return")
    back.get_by_label("Reason").fill("The road belongs to the county, not the township.")
    back.get_by_role("button", name="Return to the center").click()

    # Then it is returned, and the handler may do nothing more with it
    expect(status_badge(handler)).to_have_text("Returned")
    expect(handler.locator("aside form.action")).to_have_count(0)

    # When the dispatcher opens "Returns awaiting review"
    dispatcher = staff_login(pages, base, world["dispatcher"])
    returned = dispatcher.locator("a[data-key='returned']")
    expect(returned).to_contain_text("1")
    returned.click()
    dispatcher.locator("table.queue").get_by_role("link", name=code).click()

    # Then the detail shows it returned, with the handler's reason on the timeline
    expect(status_badge(dispatcher)).to_have_text("Returned")
    expect(dispatcher.locator("ol.timeline .reason").last).to_have_text(
        "The road belongs to the county, not the township."
    )

    # When they approve the return and dispatch it to 住建局
    action_form(dispatcher, "approve_return").get_by_role(
        "button", name="Approve the return"
    ).click()
    expect(status_badge(dispatcher)).to_have_text("Received")
    dispatch = action_form(dispatcher, "dispatch")
    dispatch.get_by_role("combobox", name="Lead unit").fill("住建局")  # type to search
    dispatch.get_by_role("combobox", name="Lead unit").press("Enter")
    dispatch.get_by_role("button", name="Dispatch", exact=True).click()
    expect(status_badge(dispatcher)).to_have_text("Dispatched")

    # Then 住建局's handler finds it among the appeals to accept
    dept = staff_login(pages, base, world["dept_handler"])
    to_accept = dept.locator("a[data-key='to_accept']")
    expect(to_accept).to_contain_text("1")
    to_accept.click()
    rows = dept.locator("table.queue tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.get_by_role("link", name=code)).to_be_visible()
    rows.get_by_role("link", name=code).click()
    expect(dept.get_by_role("button", name="Accept")).to_be_visible()

    # … and the township handler no longer sees it (404)
    response = handler.goto(f"{base}/console/appeals/{appeal.pk}/")
    assert response is not None and response.status == 404

    # And the database holds the whole story
    appeal.refresh_from_db()
    assert appeal.status == Status.DISPATCHED
    assert appeal.lead_unit_id == world.dept.pk
    assert actions_of(appeal) == ["submit", "dispatch", "return", "approve_return", "dispatch"]


# ---------------------------------------------------------------- 3. extension request


def test_extension_request_approved_moves_the_deadline(live_server, pages):
    world = make_world()
    base = live_server.url
    # Given an appeal in progress at 和兴镇, with its completion deadline
    appeal = in_progress_at_town(world)
    old_due = appeal.due_at
    assert old_due is not None
    detail_url = f"{base}/console/appeals/{appeal.pk}/"

    def complete_by(page: Page) -> Any:
        return page.locator("dl.facts dt", has_text="Complete by").locator(
            "xpath=following-sibling::dd[1]/time"
        )

    # When the handler asks for 3 more working days, with a reason
    handler = staff_login(pages, base, world["town_handler"])
    handler.goto(detail_url)
    expect(complete_by(handler)).to_have_attribute(
        "datetime", timezone.localtime(old_due).isoformat()
    )
    ask = action_form(handler, "request_extension")
    ask.get_by_label("Extra time").fill("3")
    ask.get_by_label("Counted in").select_option(value=TimeUnit.WORKING_DAYS)
    ask.get_by_label("Reason").fill("Waiting for the asphalt supplier.")
    ask.get_by_role("button", name="Request an extension").click()

    # Then the request is pending and the deadline has not moved
    expect(handler.get_by_role("status")).to_have_text(
        f"{appeal.tracking_code}: Extension requested."
    )
    extensions = handler.get_by_role("region", name="Extensions")
    expect(extensions.locator("tbody tr")).to_have_count(1)
    expect(extensions.locator("tbody tr td").nth(3)).to_have_text("Pending")
    expect(complete_by(handler)).to_have_attribute(
        "datetime", timezone.localtime(old_due).isoformat()
    )

    # When the supervisor approves it
    supervisor = staff_login(pages, base, world["supervisor"])
    supervisor.goto(detail_url)
    action_form(supervisor, "approve_extension").get_by_role(
        "button", name="Approve the extension"
    ).click()

    # Then the detail page shows the deadline moved by three working days, as stored
    expect(supervisor.get_by_role("status")).to_have_text(
        f"{appeal.tracking_code}: Extension approved."
    )
    appeal.refresh_from_db()
    new_due = appeal.due_at
    assert new_due == calendar.extend(old_due, 3, TimeUnit.WORKING_DAYS)
    assert new_due > old_due
    local = timezone.localtime(new_due)
    for page in (supervisor, handler):
        page.goto(detail_url)
        expect(complete_by(page)).to_have_attribute("datetime", local.isoformat())
        expect(complete_by(page)).to_have_text(local.strftime("%Y-%m-%d %H:%M"))
        expect(
            page.get_by_role("region", name="Extensions").locator("tbody tr td").nth(3)
        ).to_contain_text("Approved")

    # And the database records the request as approved, the appeal still in progress
    request = ExtensionRequest.objects.get(appeal=appeal)
    assert (request.state, request.amount, request.unit) == ("approved", 3, "working_days")
    assert request.decided_by_id == world["supervisor"].pk
    assert appeal.status == Status.IN_PROGRESS
    assert actions_of(appeal) == [
        "submit",
        "dispatch",
        "accept",
        "request_extension",
        "approve_extension",
    ]


# ---------------------------------------------------------------- 4. out of scope


def test_out_of_scope_handler_gets_404_and_changes_nothing(live_server, pages):
    world = make_world()
    base = live_server.url
    # Given an appeal dispatched to 和兴镇 and a handler of 青石镇
    appeal = dispatched_to_town(world)
    before = snapshot(appeal)
    outsider = staff_login(pages, base, world["other_handler"])

    # When the outsider opens the appeal's detail URL
    response = outsider.goto(f"{base}/console/appeals/{appeal.pk}/")

    # Then they get a 404 page that shows nothing of the appeal
    assert response is not None and response.status == 404
    content = outsider.content()
    assert appeal.tracking_code not in content
    assert "Pothole" not in content

    # When they post the "accept" action straight to its URL (with a valid CSRF token)
    csrf = next(c["value"] for c in outsider.context.cookies() if c["name"] == "csrftoken")
    posted = outsider.request.post(
        f"{base}/console/appeals/{appeal.pk}/action/accept/",
        form={"csrfmiddlewaretoken": csrf},
        headers={"Referer": f"{base}/console/"},
    )

    # Then that is a 404 too, their queue stays empty and nothing changed
    assert posted.status == 404
    outsider.goto(f"{base}/console/appeals/?q={appeal.tracking_code}")
    expect(outsider.locator("table.queue")).to_have_count(0)
    expect(outsider.get_by_text("No appeals match.")).to_be_visible()
    assert snapshot(appeal) == before


# ---------------------------------------------------------------- 5. elder-friendly mode


def test_elder_mode_is_remembered_larger_and_accessible(live_server, pages):
    make_world()
    base = live_server.url
    # Given a citizen on a phone in the standard mode
    page = pages(viewport=PHONE, locale=EN)
    page.goto(base + "/")
    assert page.evaluate("document.documentElement.className") == ""
    standard = page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")

    # When they switch the elder-friendly mode on
    page.get_by_role("button", name="Elder-friendly mode").click()

    # Then the same page comes back with larger text and a way back to the standard mode
    expect(page).to_have_url(base + "/")
    expect(page.locator("html")).to_have_class("elder")
    elder = page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")
    assert (standard, elder) == (16.0, 21.0)
    expect(page.get_by_role("button", name="Standard mode")).to_be_visible()
    assert axe_violations(page) == []

    # When they go on to other pages (a fresh load each time)
    for path in ("/appeal/new/", "/track/", "/"):
        page.goto(base + path)
        # Then the mode is remembered, the text stays large and the page stays accessible
        expect(page.locator("html")).to_have_class("elder")
        assert page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)") == elder
        assert axe_violations(page) == [], path

    # When they switch it off again
    page.get_by_role("button", name="Standard mode").click()

    # Then the standard size is back, and stays back
    expect(page.locator("html")).not_to_have_class("elder")
    page.goto(base + "/track/")
    assert page.evaluate("document.documentElement.className") == ""
    assert page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)") == standard


# ---------------------------------------------------------------- 6. accessibility


def test_portal_pages_have_no_serious_accessibility_violations(live_server, pages):
    world = make_world()
    base = live_server.url
    page = pages(viewport=PHONE, locale=EN)
    found: dict[str, list[str]] = {}

    def check(name: str) -> None:
        found[name] = axe_violations(page)

    # Given each portal page in turn, when axe-core checks it …
    page.goto(base + "/")
    check("home")
    page.goto(base + "/appeal/new/")
    check("submit (empty)")
    page.get_by_role("button", name="Send my appeal").click()
    expect(page.get_by_role("alert")).to_contain_text("Please check these and send again")
    check("submit (with errors)")
    fill_submit_form(page, world, text="Streetlight broken for a week", phone=CITIZEN_PHONE)
    page.get_by_role("button", name="Send my appeal").click()
    expect(page).to_have_url(DONE_URL)
    check("confirmation")
    page.get_by_role("main").get_by_role("link", name="Follow my appeal").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("My appeal")
    check("follow-up (open)")
    page.goto(base + "/track/")
    check("track")
    page.get_by_label("Tracking code").fill("ABC DEF GHJK")
    page.get_by_label("The phone number you gave").fill(CITIZEN_PHONE)
    page.get_by_role("button", name="Show my appeal").click()
    expect(page.get_by_role("alert")).to_be_visible()
    check("track (not found)")
    # … including the follow-up page with its rating form, once the appeal is answered
    appeal = Appeal.objects.get()
    services.dispatch_appeal(appeal=appeal.pk, actor=world["dispatcher"], unit=world.town)
    services.accept_appeal(appeal=appeal.pk, actor=world["town_handler"])
    services.reply_appeal(appeal=appeal.pk, actor=world["town_handler"], reply="Fixed.")
    services.approve_reply(appeal=appeal.pk, actor=world["supervisor"])
    page.goto(f"{base}/track/{appeal.tracking_code}/")
    expect(page.get_by_role("button", name="Send my answer")).to_be_visible()
    check("follow-up (rating form)")
    page.get_by_role("button", name="Send my answer").click()
    expect(page.get_by_role("alert")).to_contain_text("Please check these and send again")
    check("follow-up (rating errors)")

    # Then none reports a serious or critical violation
    bad = {name: lines for name, lines in found.items() if lines}
    assert bad == {}, "\n".join(f"{name}: {line}" for name, ls in bad.items() for line in ls)


def test_submit_form_works_by_keyboard_alone(live_server, pages):
    world = make_world()
    base = live_server.url
    # Given the submit form with the focus on its first field
    page = pages(viewport=PHONE, locale=EN)
    page.goto(base + "/appeal/new/")
    page.locator("input[name=appeal_type]").first.focus()

    def focused() -> str:
        return page.evaluate(
            "(() => { const e = document.activeElement;"
            " return e.tagName === 'BUTTON' ? 'button:' + e.type : e.name; })()"
        )

    # When the citizen uses only the keyboard: choose, Tab on, type
    order = [focused()]
    page.keyboard.press("Space")  # 投诉 / complaint
    typed = {
        "place": lambda: page.keyboard.press("ArrowDown"),  # 和兴镇 (the first place)
        "text": lambda: page.keyboard.type("Rubbish has not been collected for a week"),
        "phone": lambda: page.keyboard.type(CITIZEN_PHONE),
    }
    while order[-1] != "button:submit" and len(order) < 20:
        page.keyboard.press("Tab")
        order.append(focused())
        if order[-1] in typed:
            typed[order[-1]]()

    # Then Tab visits every field in reading order, ending on the submit button
    assert order == [
        "appeal_type",
        "category",
        "place",
        "address",
        "button:button",  # use my location
        "text",
        "photos",
        "name",
        "phone",
        "anonymous",
        "button:submit",
    ]

    # When they press Enter on the button
    page.keyboard.press("Enter")

    # Then the appeal is received with what they typed
    expect(page).to_have_url(DONE_URL)
    appeal = Appeal.objects.get()
    assert appeal.appeal_type == "complaint"
    assert appeal.territory_id == world.town.pk
    assert appeal.content == "Rubbish has not been collected for a week"
    assert appeal.citizen_phone == CITIZEN_PHONE


# ---------------------------------------------------------------- 7. double click


def test_double_click_on_submit_creates_one_appeal(live_server, pages):
    world = make_world()
    base = live_server.url
    # Given a filled-in submit form
    page = pages(viewport=PHONE, locale=EN)
    page.goto(base + "/appeal/new/")
    fill_submit_form(page, world, text="Dog barking all night", phone=CITIZEN_PHONE)
    posts: list[Any] = []
    page.on("request", lambda r: posts.append(r) if r.method == "POST" else None)

    # When the citizen double-clicks "Send my appeal"
    page.get_by_role("button", name="Send my appeal").dblclick()

    # Then they land on one confirmation, and exactly one appeal exists
    expect(page).to_have_url(DONE_URL)
    expect(page.get_by_role("heading", level=1)).to_have_text("Your appeal has been received")
    done_url = page.url
    code = page.locator("#tracking-code").inner_text().replace(" ", "")
    assert Appeal.objects.count() == 1
    assert Appeal.objects.get().tracking_code == code

    # When the same form arrives again (Chromium folds a double click into one navigation,
    # so the second click's request is replayed as sent, with this browser's cookies)
    assert {r.url for r in posts} == {base + "/appeal/new/"}
    first = posts[0]
    again = page.request.post(
        first.url,
        data=first.post_data_buffer,
        headers={"Content-Type": first.headers["content-type"], "Referer": first.url},
    )

    # Then it leads to the same confirmation, and there is still exactly one appeal
    assert (again.status, again.url) == (200, done_url)
    assert Appeal.objects.count() == 1
    assert AppealEvent.objects.filter(action="submit").count() == 1


# ---------------------------------------------------------------- default (Chinese) UI


def test_citizen_submits_in_the_default_chinese_ui(live_server, pages):
    world = make_world()
    base = live_server.url
    # Given a phone browser with the default (Chinese) language
    page = pages(viewport=PHONE)
    page.goto(base + "/appeal/new/")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")

    # When the citizen fills the form (found by stable attributes only) and sends it
    page.locator("input[name=appeal_type][value=help]").check()
    page.locator("select[name=category]").select_option(value=str(world.noise.pk))
    page.locator("select[name=place]").select_option(value=str(world.other_village.pk))
    page.locator("textarea[name=text]").fill("夜间施工噪音扰民")
    page.locator("input[name=name]").fill("张三")
    page.locator("input[name=phone]").fill(CITIZEN_PHONE)
    page.locator("form.portal-form button[type=submit]").click()

    # Then the confirmation shows the code of the one appeal saved, in the Chinese page
    expect(page).to_have_url(DONE_URL)
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    code = page.locator("#tracking-code").inner_text().replace(" ", "")
    appeal = Appeal.objects.get()
    assert code == appeal.tracking_code
    assert (appeal.appeal_type, appeal.category_id, appeal.territory_id) == (
        "help",
        world.noise.pk,
        world.other_village.pk,
    )
    assert (appeal.content, appeal.citizen_name) == ("夜间施工噪音扰民", "张三")
    assert axe_violations(page) == []
