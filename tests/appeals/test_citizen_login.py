"""My appeals: a citizen logs in with a phone number and a texted one-time code.

Codes expire, are single-use, die after five wrong tries and are rate-limited; a verified phone
lists its own appeals (not anonymous ones, not anybody else's) and opens them without typing the
number again. Time is moved with ``clock.replaying`` (the services' clock) together with the
rate limits' fixed windows (``at`` below).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import translation

from minsheng.appeals import citizen_login, services
from minsheng.appeals.choices import Status
from minsheng.appeals.models import Appeal, PhoneLoginCode
from minsheng.appeals.views import portal
from minsheng.core import clock, ratelimit
from minsheng.core.errors import DomainError
from minsheng.notify import sms
from tests.appeals import factories
from tests.appeals.test_concurrency import race
from tests.conftest import World

pytestmark = pytest.mark.django_db

PHONE = "13812341234"
MASKED = "138****1234"
OTHER_PHONE = "13900001111"
# On an hour boundary, so the hourly fixed windows of the rate limits start here.
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _sms(settings: Any) -> Iterator[None]:
    settings.MINSHENG_SMS_BACKEND = "minsheng.notify.sms.LocmemBackend"
    sms.outbox.clear()
    cache.clear()  # rate-limit counters
    yield
    sms.outbox.clear()


@pytest.fixture
def client() -> Client:
    """A citizen's browser, in English so messages can be read in assertions."""
    return Client(HTTP_ACCEPT_LANGUAGE="en")


@pytest.fixture
def at(monkeypatch: pytest.MonkeyPatch) -> Callable[[float], AbstractContextManager[None]]:
    """``with at(seconds):`` runs the block that many seconds after ``T0``: for the services'
    clock and for the fixed windows of the rate limits (which count in real time)."""

    @contextmanager
    def moment(seconds: float) -> Iterator[None]:
        fake = SimpleNamespace(time=lambda: T0.timestamp() + seconds)
        monkeypatch.setattr(ratelimit, "time", fake)
        monkeypatch.setattr(citizen_login, "time", fake)
        with clock.replaying(T0 + timedelta(seconds=seconds)):
            yield

    return moment


@pytest.fixture
def committed(django_capture_on_commit_callbacks: Any) -> Callable[[], Any]:
    """``with committed():`` runs the block's after-commit callbacks (the texts), as a commit
    would; the test itself runs inside a transaction that never commits."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def texts_to(phone: str) -> list[str]:
    return [message.text for message in sms.outbox if message.phone == phone]


def code_in(text: str) -> str:
    found = re.search(r"\b(\d{6})\b", text)
    assert found is not None, text
    return found.group(1)


def last_code(phone: str) -> str:
    return code_in(texts_to(phone)[-1])


def not_(code: str) -> str:
    """A code that is certainly wrong."""
    return f"{(int(code) + 1) % 1_000_000:06d}"


def ask_for_code(committed: Callable[[], Any], phone: str = PHONE, ip: str = "127.0.0.1") -> str:
    with committed():
        citizen_login.request_login_code(phone=phone, client_ip=ip)
    return last_code(phone)


def refused(call: Callable[[], object]) -> DomainError:
    with pytest.raises(DomainError) as caught:
        call()
    return caught.value


def log_in(client: Client, committed: Callable[[], Any], phone: str = PHONE) -> None:
    """Through the real pages: number, text message, code."""
    with committed():
        response = client.post("/my/login/", {"phone": phone})
    assert (response.status_code, response["Location"]) == (302, "/my/login/code/")
    response = client.post("/my/login/code/", {"code": last_code(phone)})
    assert (response.status_code, response["Location"]) == (302, "/my/")


def row(phone: str = PHONE) -> PhoneLoginCode:
    return PhoneLoginCode.objects.filter(phone=phone).latest("created_at", "pk")


# ---------------------------------------------------------------- the code and its text


def test_a_code_is_texted_after_commit_and_only_its_hash_is_kept(committed, at) -> None:
    # given a citizen asking in English
    with at(0), translation.override("en"):
        # when
        with committed() as callbacks:
            citizen_login.request_login_code(phone="138 1234 1234", client_ip="203.0.113.7")
            # then: nothing leaves before the commit
            assert sms.outbox == []
    # then: one text, to the digits of the number, after the commit
    assert len(callbacks) == 1
    assert len(sms.outbox) == 1
    message = sms.outbox[0]
    code = code_in(message.text)
    assert message.phone == PHONE
    assert message.text == (
        f"Your Minsheng verification code is {code}, valid for 5 minutes. Do not share it."
    )
    stored = row()
    assert stored.created_at == T0
    assert stored.expires_at == T0 + timedelta(minutes=5)
    assert (stored.used_at, stored.failed_attempts) == (None, 0)
    assert len(stored.code_hash) == 64
    assert code not in stored.code_hash


def test_the_default_backend_writes_the_text_to_the_sms_log(
    settings: Any, committed, caplog: pytest.LogCaptureFixture, capsys: Any
) -> None:
    # given the default backend
    settings.MINSHENG_SMS_BACKEND = "minsheng.notify.sms.LogBackend"
    # when
    with caplog.at_level(logging.INFO, logger="minsheng.sms"), translation.override("en"):
        with committed():
            citizen_login.request_login_code(phone=PHONE, client_ip="203.0.113.7")
    # then: one INFO record with the masked number and the whole text, and nothing printed
    records = [r for r in caplog.records if r.name == "minsheng.sms"]
    assert [r.levelno for r in records] == [logging.INFO]
    code = code_in(records[0].getMessage())
    assert records[0].getMessage() == (
        f"SMS to {MASKED}: Your Minsheng verification code is {code}, valid for 5 minutes. "
        "Do not share it."
    )
    assert sms.outbox == []
    assert capsys.readouterr().out == ""
    # and the logged code is the one that works
    citizen_login.verify_login_code(phone=PHONE, code=code)
    assert row().used_at is not None


def test_a_number_that_cannot_get_a_text_gets_no_code(committed) -> None:
    with committed():
        malformed = refused(
            lambda: citizen_login.request_login_code(phone="138-abc", client_ip="203.0.113.7")
        )
        landline = refused(
            lambda: citizen_login.request_login_code(phone="12345", client_ip="203.0.113.7")
        )
    assert (malformed.code, landline.code) == ("invalid_phone", "not_a_mobile")
    assert sms.outbox == []
    assert PhoneLoginCode.objects.count() == 0


# ---------------------------------------------------------------- verifying


def test_the_right_code_is_accepted_once(committed) -> None:
    # given
    code = ask_for_code(committed)
    # when
    citizen_login.verify_login_code(phone=PHONE, code=code)
    used_at = row().used_at
    second = refused(lambda: citizen_login.verify_login_code(phone=PHONE, code=code))
    # then
    assert used_at is not None
    assert second.code == "login_code_used"
    assert (row().used_at, row().failed_attempts) == (used_at, 0)


def test_a_wrong_code_is_refused_and_counted(committed) -> None:
    code = ask_for_code(committed)
    error = refused(lambda: citizen_login.verify_login_code(phone=PHONE, code=not_(code)))
    assert error.code == "login_code_wrong"
    assert (row().failed_attempts, row().used_at) == (1, None)


def test_five_wrong_tries_kill_the_code(committed) -> None:
    # given a code typed wrong four times
    code = ask_for_code(committed)
    codes = [
        refused(lambda: citizen_login.verify_login_code(phone=PHONE, code=not_(code))).code
        for _ in range(4)
    ]
    # when it is typed wrong a fifth time, then right
    fifth = refused(lambda: citizen_login.verify_login_code(phone=PHONE, code=not_(code)))
    right = refused(lambda: citizen_login.verify_login_code(phone=PHONE, code=code))
    # then
    assert codes == ["login_code_wrong"] * 4
    assert (fifth.code, right.code) == ("login_code_locked", "login_code_locked")
    assert (row().failed_attempts, row().used_at) == (5, None)


def test_an_expired_code_is_refused(committed, at) -> None:
    # given a code sent at T0 (valid 5 minutes)
    with at(0):
        code = ask_for_code(committed)
    # when it is typed 5 minutes later
    with at(300):
        error = refused(lambda: citizen_login.verify_login_code(phone=PHONE, code=code))
    # then
    assert error.code == "login_code_expired"
    assert (row().used_at, row().failed_attempts) == (None, 0)


def test_a_code_is_still_good_just_before_it_expires(committed, at) -> None:
    with at(0):
        code = ask_for_code(committed)
    with at(299):
        citizen_login.verify_login_code(phone=PHONE, code=code)
    assert row().used_at == T0 + timedelta(seconds=299)


def test_a_new_code_replaces_the_old_one(committed, at, monkeypatch: pytest.MonkeyPatch) -> None:
    # given a first code (random codes made distinct: they could otherwise repeat)
    draws = iter([111111, 222222])
    monkeypatch.setattr(citizen_login.secrets, "randbelow", lambda _n: next(draws))
    with at(0):
        first = ask_for_code(committed)
    # when a second is asked for a minute later
    with at(61):
        second = ask_for_code(committed)
        old = PhoneLoginCode.objects.filter(phone=PHONE).earliest("created_at")
        refused_first = refused(lambda: citizen_login.verify_login_code(phone=PHONE, code=first))
        # then the old one stopped working at once; the new one works
        citizen_login.verify_login_code(phone=PHONE, code=second)
    assert (first, second) == ("111111", "222222")
    assert (old.expires_at, old.used_at) == (T0 + timedelta(seconds=61), None)
    assert refused_first.code == "login_code_wrong"
    assert row().used_at == T0 + timedelta(seconds=61)
    assert len(texts_to(PHONE)) == 2


def test_no_code_asked_for_is_refused_as_expired() -> None:
    error = refused(lambda: citizen_login.verify_login_code(phone=PHONE, code="123456"))
    assert error.code == "login_code_expired"
    assert PhoneLoginCode.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_two_verifications_of_one_code_at_once_let_in_only_one() -> None:
    # given a code (committed for real: the racing threads have their own connections)
    with translation.override("en"):
        citizen_login.request_login_code(phone=PHONE, client_ip="203.0.113.7")
    code = last_code(PHONE)
    # when two browsers send it at the same moment
    results = race(
        lambda: citizen_login.verify_login_code(phone=PHONE, code=code),
        lambda: citizen_login.verify_login_code(phone=PHONE, code=code),
    )
    # then exactly one is let in
    errors = [r.code for r in results if isinstance(r, DomainError)]
    assert errors == ["login_code_used"]
    assert results.count(None) == 1
    assert row().used_at is not None


# ---------------------------------------------------------------- rate limits


def test_a_second_code_within_a_minute_is_refused_with_the_wait(client, committed, at) -> None:
    # given a code asked for at T0
    with at(0), committed():
        client.post("/my/login/", {"phone": PHONE})
    # when the same number asks again 20 seconds later
    with at(20), committed():
        response = client.post("/my/login/", {"phone": PHONE})
    # then: refused, the wait stated next to the field, the number kept, no second text
    body = response.content.decode()
    assert response.status_code == 429
    assert (
        '<p class="error" id="id_phone_error">A code was sent to this number less than a minute '
        "ago. You can ask for a new one in 40 seconds.</p>"
    ) in body
    assert f'value="{PHONE}"' in body
    assert 'href="/my/login/code/"' in body
    assert len(texts_to(PHONE)) == 1
    assert PhoneLoginCode.objects.count() == 1


def test_resend_waits_a_minute_then_sends_a_new_code(client, committed, at) -> None:
    # given a code page
    with at(0), committed():
        client.post("/my/login/", {"phone": PHONE})
    first = last_code(PHONE)
    # when "send a new code" is pressed after 30 seconds
    with at(30), committed():
        early = client.post("/my/login/resend/")
    # then refused on the code page, with the wait
    assert early.status_code == 429
    assert (
        "A code was sent to this number less than a minute ago. You can ask for a new one in "
        "30 seconds." in early.content.decode()
    )
    assert len(texts_to(PHONE)) == 1
    # when pressed again after a minute
    with at(61), committed():
        later = client.post("/my/login/resend/")
    # then a new code is sent and works; the first no longer does
    assert (later.status_code, later["Location"]) == (302, "/my/login/code/")
    assert len(texts_to(PHONE)) == 2
    with at(62):
        response = client.post("/my/login/code/", {"code": last_code(PHONE)})
    assert response["Location"] == "/my/"
    old = PhoneLoginCode.objects.get(created_at=T0)
    assert (old.expires_at, old.used_at) == (T0 + timedelta(seconds=61), None)
    assert first == code_in(texts_to(PHONE)[0])


def test_a_number_gets_at_most_five_codes_an_hour(committed, at) -> None:
    # given five codes, a minute apart
    for minute in range(5):
        with at(61 * minute):
            ask_for_code(committed)
    # when a sixth is asked for
    with at(61 * 5), committed():
        error = refused(
            lambda: citizen_login.request_login_code(phone=PHONE, client_ip="203.0.113.7")
        )
    # then: refused until the hour is over; no sixth text
    assert error.code == "rate_limited"
    assert error.details == {"retry_after_seconds": 3600 - 305, "limit": "phone"}
    assert len(texts_to(PHONE)) == 5
    assert PhoneLoginCode.objects.count() == 5


def test_an_address_gets_at_most_twenty_codes_an_hour(client, committed, at) -> None:
    # given twenty numbers asking from one address
    with at(0):
        for index in range(20):
            ask_for_code(committed, phone=f"1390000{index:04d}", ip="203.0.113.9")
        # when a twenty-first asks (through the page, from that address)
        with committed():
            response = client.post("/my/login/", {"phone": OTHER_PHONE}, REMOTE_ADDR="203.0.113.9")
    # then
    assert response.status_code == 429
    assert "Too many codes were asked for. Please try again in 60 minutes." in (
        response.content.decode()
    )
    assert texts_to(OTHER_PHONE) == []
    assert len(sms.outbox) == 20


# ---------------------------------------------------------------- the login pages


def test_login_checks_the_number_and_keeps_what_was_typed(client) -> None:
    response = client.post("/my/login/", {"phone": "1381234x"})
    landline = client.post("/my/login/", {"phone": "12345"})
    body = response.content.decode()
    assert (response.status_code, landline.status_code) == (422, 422)
    assert '<p class="error" id="id_phone_error">This is not a valid phone number.</p>' in body
    assert 'value="1381234x"' in body
    assert (
        "Text messages can only go to a mobile number (11 digits, starting with 1)."
        in landline.content.decode()
    )
    assert 'aria-invalid="true"' in body
    assert sms.outbox == []
    assert PhoneLoginCode.objects.count() == 0


def test_login_page_asks_for_a_number(client) -> None:
    empty = client.post("/my/login/", {"phone": ""})
    assert empty.status_code == 422
    assert "Please enter your phone number." in empty.content.decode()
    page = client.get("/my/login/")
    assert page.status_code == 200
    assert 'type="tel"' in page.content.decode()


def test_the_code_page_shows_the_number_masked(client, committed) -> None:
    with committed():
        client.post("/my/login/", {"phone": PHONE})
    body = client.get("/my/login/code/").content.decode()
    assert f"We sent a text message with a 6-digit code to {MASKED}." in body
    assert PHONE not in body
    assert 'autocomplete="one-time-code"' in body


def test_a_wrong_code_on_the_page_is_shown_next_to_the_field(client, committed) -> None:
    # given
    with committed():
        client.post("/my/login/", {"phone": PHONE})
    wrong = not_(last_code(PHONE))
    # when
    response = client.post("/my/login/code/", {"code": wrong})
    # then
    body = response.content.decode()
    assert response.status_code == 422
    assert (
        '<p class="error" id="id_code_error">This code is not right. Check the text message '
        "and type it again.</p>"
    ) in body
    assert f'value="{wrong}"' in body
    assert "citizen_phone" not in client.session
    assert row().failed_attempts == 1


def test_a_code_that_is_not_six_digits_is_not_counted(client, committed) -> None:
    with committed():
        client.post("/my/login/", {"phone": PHONE})
    response = client.post("/my/login/code/", {"code": "12ab"})
    assert response.status_code == 422
    assert "The code is 6 digits, for example 123456." in response.content.decode()
    assert row().failed_attempts == 0


def test_the_code_page_needs_a_number_first(client) -> None:
    assert client.get("/my/login/code/")["Location"] == "/my/login/"
    assert client.post("/my/login/code/", {"code": "123456"})["Location"] == "/my/login/"
    assert client.post("/my/login/resend/")["Location"] == "/my/login/"
    assert PhoneLoginCode.objects.count() == 0


def test_login_stores_the_phone_under_a_new_session_key(client, committed) -> None:
    # given a code asked for (the session exists already)
    with committed():
        client.post("/my/login/", {"phone": PHONE})
    key_before = client.session.session_key
    # when
    response = client.post("/my/login/code/", {"code": last_code(PHONE)})
    # then
    assert response["Location"] == "/my/"
    assert client.session.session_key != key_before
    assert client.session["citizen_phone"] == PHONE
    assert "citizen_login_phone" not in client.session
    assert client.get("/my/login/")["Location"] == "/my/"


def test_my_appeals_without_login_goes_to_the_login_page(client) -> None:
    response = client.get("/my/")
    assert (response.status_code, response["Location"]) == (302, "/my/login/")


def test_logout_is_post_only_and_forgets_the_phone(client, committed, world: World) -> None:
    # given a logged-in citizen who also looked up an appeal by code and phone
    own = factories.submitted(world, phone=PHONE)
    log_in(client, committed)
    assert client.get(f"/track/{own.tracking_code}/").status_code == 200
    # when
    assert client.get("/my/logout/").status_code == 405
    response = client.post("/my/logout/")
    # then
    assert (response.status_code, response["Location"]) == (302, "/")
    assert "citizen_phone" not in client.session
    assert client.get("/my/")["Location"] == "/my/login/"
    assert client.get(f"/track/{own.tracking_code}/")["Location"] == (
        f"/track/?code={own.tracking_code}"
    )


# ---------------------------------------------------------------- my appeals


def test_my_appeals_lists_only_this_numbers_named_appeals_newest_first(
    client, committed, world: World
) -> None:
    # given appeals of this number (one closed, one merged), an anonymous one sent with it,
    # and another number's
    first = factories.submitted(world, phone=PHONE)
    merged = factories.submitted(world, phone=PHONE)
    other = factories.submitted(world, phone=OTHER_PHONE)
    services.merge_appeal(appeal=merged, actor=world["dispatcher"], into=other, reason="同一事项")
    anonymous = factories.submitted(world, phone=PHONE, anonymous=True, name="")
    done = factories.closed(world, phone=PHONE)
    log_in(client, committed)
    # when
    response = client.get("/my/")
    # then
    body = response.content.decode()
    codes = [item["code"] for item in response.context["items"]]
    assert response.status_code == 200
    assert codes == [done.tracking_code, merged.tracking_code, first.tracking_code]
    assert other.tracking_code not in body
    assert anonymous.tracking_code not in body
    statuses = {item["code"]: item["status"] for item in response.context["items"]}
    assert statuses == {
        done.tracking_code: Status.CLOSED,
        merged.tracking_code: Status.MERGED,
        first.tracking_code: Status.RECEIVED,
    }
    assert "Joined with another appeal about the same matter." in body
    assert "Finished. You can read the answer below." in body
    assert f'href="/track/{done.tracking_code}/"' in body
    assert "Complaint" in body
    assert "道路" in body
    assert f"Appeals sent with the phone number {MASKED}, newest first." in body
    assert PHONE not in body
    assert response["Cache-Control"].startswith("max-age=0")


def test_my_appeals_come_a_page_at_a_time(
    client, committed, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given three appeals and pages of two
    monkeypatch.setattr(portal, "MY_PAGE_SIZE", 2)
    oldest, middle, newest = (factories.submitted(world, phone=PHONE) for _ in range(3))
    log_in(client, committed)
    # when
    first_page = client.get("/my/")
    second_page = client.get(f"/my/?before={middle.pk}")
    # then
    assert [i["code"] for i in first_page.context["items"]] == [
        newest.tracking_code,
        middle.tracking_code,
    ]
    assert f'href="?before={middle.pk}"' in first_page.content.decode()
    assert [i["code"] for i in second_page.context["items"]] == [oldest.tracking_code]
    assert second_page.context["more"] is None
    assert client.get("/my/?before=abc").status_code == 404


def test_a_number_without_appeals_sees_an_empty_list(client, committed, world: World) -> None:
    factories.submitted(world, phone=OTHER_PHONE)
    log_in(client, committed)
    response = client.get("/my/")
    assert response.context["items"] == []
    assert "No appeals were sent with this phone number." in response.content.decode()


def test_my_own_appeal_opens_without_typing_the_number(client, committed, world: World) -> None:
    # given an appeal of this number, not looked up in this browser
    own = factories.submitted(world, phone=PHONE)
    assert client.get(f"/track/{own.tracking_code}/")["Location"] == (
        f"/track/?code={own.tracking_code}"
    )
    # when the citizen logs in and opens it
    log_in(client, committed)
    response = client.get(f"/track/{own.tracking_code}/")
    # then
    assert response.status_code == 200
    assert response.context["code"] == own.tracking_code


def test_somebody_elses_appeal_stays_closed_to_a_logged_in_citizen(
    client, committed, world: World
) -> None:
    # given a logged-in citizen, another number's appeal and their own anonymous one
    other = factories.submitted(world, phone=OTHER_PHONE)
    anonymous = factories.submitted(world, phone=PHONE, anonymous=True, name="")
    log_in(client, committed)
    for appeal in (other, anonymous):
        # when they try to open or change it
        page = client.get(f"/track/{appeal.tracking_code}/")
        added = client.post(
            f"/track/{appeal.tracking_code}/supplement/", {"text": "补充", "submission_key": "k"}
        )
        rated = client.post(
            f"/track/{appeal.tracking_code}/rate/", {"rating": "satisfied", "solved": "yes"}
        )
        # then: sent to the code-and-phone form like anybody else; changes are a 404
        assert page["Location"] == f"/track/?code={appeal.tracking_code}"
        assert (added.status_code, rated.status_code) == (404, 404)
        assert client.get(f"/appeal/done/{appeal.tracking_code}/").status_code == 404
    assert Appeal.objects.get(pk=other.pk).events.count() == 1
    assert Appeal.objects.get(pk=anonymous.pk).events.count() == 1


def test_navigation_and_home_link_to_my_appeals(client, world: World) -> None:
    body = client.get("/").content.decode()
    assert body.count('href="/my/"') == 2
