"""My appeals in a phone-sized browser: log in with a texted code, see the list, open an appeal.

The live server is a thread of this test process (pytest-django's ``live_server``), so the
``LocmemBackend`` outbox the server's requests append to is the very list this test reads: the
code is read from it as a citizen reads their text messages.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core.cache import cache
from playwright.sync_api import expect

from minsheng.notify import sms
from tests.appeals import factories
from tests.browser.conftest import PHONE, axe_violations
from tests.conftest import make_world

pytestmark = pytest.mark.django_db(transaction=True)

EN = "en-US"
CITIZEN_PHONE = "13812341234"
MASKED = "138****1234"


@pytest.fixture(autouse=True)
def _texts_kept_here(settings: Any) -> Any:
    settings.MINSHENG_SMS_BACKEND = "minsheng.notify.sms.LocmemBackend"
    sms.outbox.clear()
    cache.clear()  # rate limits
    yield
    sms.outbox.clear()


def texted_code() -> str:
    texts = [m.text for m in sms.outbox if m.phone == CITIZEN_PHONE]
    assert len(texts) == 1, texts
    found = re.search(r"\b(\d{6})\b", texts[0])
    assert found is not None, texts[0]
    return found.group(1)


def test_a_citizen_logs_in_with_a_texted_code_and_opens_their_appeal(live_server, pages):
    # given an appeal sent with this phone, and somebody else's
    world = make_world()
    own = factories.submitted(world, phone=CITIZEN_PHONE)
    other = factories.submitted(world, phone="13900001111")
    base = live_server.url
    page = pages(viewport=PHONE, locale=EN)

    # when the citizen goes to My appeals from the start page
    page.goto(base + "/")
    page.get_by_role("main").get_by_role("link", name="My appeals").click()
    # then they are asked for their number
    expect(page).to_have_url(base + "/my/login/")
    assert axe_violations(page) == []
    page.get_by_label("Your phone number").fill(CITIZEN_PHONE)
    page.get_by_role("button", name="Text me a code").click()

    # then the code page shows the number masked
    expect(page).to_have_url(base + "/my/login/code/")
    expect(page.get_by_text(f"a 6-digit code to {MASKED}")).to_be_visible()
    assert CITIZEN_PHONE not in page.content()
    code = texted_code()

    # when a wrong code is typed, the problem is stated next to the field, the code kept
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    page.get_by_label("Code from the text message").fill(wrong)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#id_code_error")).to_have_text(
        "This code is not right. Check the text message and type it again."
    )
    expect(page.get_by_label("Code from the text message")).to_have_value(wrong)
    assert axe_violations(page) == []

    # when the right code is typed
    page.get_by_label("Code from the text message").fill(code)
    page.get_by_role("button", name="Log in").click()

    # then the list holds their appeal only
    expect(page).to_have_url(base + "/my/")
    expect(page.get_by_role("heading", level=1)).to_have_text("My appeals")
    items = page.locator("ul.history-list > li")
    expect(items).to_have_count(1)
    expect(items.first).to_have_attribute("data-code", own.tracking_code)
    assert other.tracking_code not in page.content()
    assert axe_violations(page) == []

    # when they open it, no phone number is asked for
    items.first.get_by_role("link").click()
    expect(page).to_have_url(base + f"/track/{own.tracking_code}/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("My appeal")

    # and logging out closes the list again
    page.goto(base + "/my/")
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(base + "/")
    page.goto(base + "/my/")
    expect(page).to_have_url(base + "/my/login/")
