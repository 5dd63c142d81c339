"""Hostile text through every field a citizen or staff member fills: stored exactly and shown
escaped, or refused with a 4xx that changes nothing (the corpus and its rules: tests/hostile.py).
"""

from __future__ import annotations

import json
from html.parser import HTMLParser
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils.html import escape

from minsheng.appeals.models import Appeal, AppealEvent, ExtensionRequest
from tests import hostile
from tests.appeals.factories import submitted
from tests.appeals.test_console import intake_body
from tests.conftest import World

pytestmark = pytest.mark.django_db

PHONE = "13900001234"
CORPUS = pytest.mark.parametrize(
    "text", list(hostile.STORED.values()), ids=list(hostile.STORED.keys())
)


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> None:
    cache.clear()


def client_for(user: Any = None) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    if user is not None:
        client.force_login(user)
    return client


class _Markup(HTMLParser):
    """Every element that could run script: ``on*`` attributes, inline scripts, script URLs."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"<{tag} {name}>")
            if name in ("href", "src", "action", "formaction") and (
                value or ""
            ).strip().lower().startswith(("javascript:", "data:text/html")):
                self.found.append(f"<{tag} {name}={value}>")
        if tag in ("iframe", "object", "embed", "base"):
            self.found.append(f"<{tag}>")
        if tag == "script":
            if not dict(attrs).get("src") and dict(attrs).get("type") != "application/json":
                self.found.append("<script> without src")


def injected(html: str) -> list[str]:
    """What in ``html`` could run script; the pages' own markup has none of it."""
    parser = _Markup()
    parser.feed(html)
    return parser.found


def detail_html(world: World, appeal: Appeal) -> str:
    response = client_for(world["center_admin"]).get(f"/console/appeals/{appeal.pk}/")
    assert response.status_code == 200
    return response.content.decode()


def queue_html(world: World) -> str:
    response = client_for(world["center_admin"]).get("/console/appeals/")
    assert response.status_code == 200
    return response.content.decode()


def portal_form(client: Client, world: World, **overrides: Any) -> dict[str, Any]:
    page = client.get("/appeal/new/")
    return {
        "submission_key": page.context["form"]["submission_key"].value(),
        "appeal_type": "complaint",
        "category": str(world.road.pk),
        "place": str(world.village.pk),
        "address": "村口",
        "text": "村口道路塌陷。",
        "name": "王小明",
        "phone": PHONE,
        **overrides,
    }


def act(client: Client, appeal: Appeal, name: str, **data: Any) -> None:
    response = client.post(f"/console/appeals/{appeal.pk}/action/{name}/", data)
    form = response.context["bound"] if response.status_code != 302 else None
    assert response.status_code == 302, (name, form)


def state(appeal: Appeal) -> tuple[str, int, int]:
    row = Appeal.objects.get(pk=appeal.pk)
    return row.status, row.version, AppealEvent.objects.filter(appeal=appeal).count()


# ---------------------------------------------------------------- stored exactly, shown escaped


@CORPUS
def test_portal_submission_is_stored_exactly_and_shown_escaped(world, text):
    # Given a citizen typing the hostile text into every free-text field of the portal
    client = client_for()
    data = portal_form(client, world, text=text, address=text[:200], name=text[:50])

    # When they send it
    response = client.post("/appeal/new/", data)

    # Then it is stored as typed (forms trim surrounding whitespace, nothing else)
    assert response.status_code == 302
    appeal = Appeal.objects.get()
    assert appeal.content == hostile.as_form_field(text)
    assert appeal.address == hostile.as_form_field(text[:200])
    assert appeal.citizen_name == hostile.as_form_field(text[:50])
    # And the console shows it escaped, with nothing able to run
    page = detail_html(world, appeal)
    assert str(escape(appeal.content)) in page
    assert str(escape(appeal.address)) in page
    assert injected(page) == []
    assert injected(queue_html(world)) == []


@CORPUS
def test_console_intake_is_stored_exactly_and_shown_escaped(world, text):
    # Given a hotline agent typing what the caller says, hostile text included
    agent = client_for(world["agent"])
    body = intake_body(world, content=text, name=text[:50], address=text[:200])

    # When they register it
    response = agent.post("/console/intake/", body)

    # Then it is stored as typed and shown escaped
    assert response.status_code == 302
    appeal = Appeal.objects.get()
    assert appeal.content == hostile.as_form_field(text)
    assert appeal.address == hostile.as_form_field(text[:200])
    assert appeal.citizen_name == hostile.as_form_field(text[:50])
    page = detail_html(world, appeal)
    assert str(escape(appeal.content)) in page
    assert injected(page) == []
    assert injected(queue_html(world)) == []


@CORPUS
def test_action_forms_store_hostile_text_exactly_and_show_it_escaped(world, text):
    # Given an appeal taken through every action that carries a text, each with the corpus text
    appeal = submitted(world)
    dispatcher = client_for(world["dispatcher"])
    handler = client_for(world["town_handler"])
    agent = client_for(world["agent"])
    act(dispatcher, appeal, "dispatch", unit=str(world.town.pk), note=text)
    act(handler, appeal, "return", reason=text)
    act(dispatcher, appeal, "reject_return", reason=text)
    act(handler, appeal, "accept")
    act(handler, appeal, "suspend", reason=text)
    act(handler, appeal, "resume", note=text)
    act(handler, appeal, "request_extension", amount="2", time_unit="working_days", reason=text)
    act(dispatcher, appeal, "refuse_extension", reason=text)
    act(agent, appeal, "supplement", text=text)
    act(handler, appeal, "reply", reply=text)
    act(dispatcher, appeal, "rework", reason=text)
    act(handler, appeal, "reply", reply=text)
    act(dispatcher, appeal, "approve_reply", note=text)
    act(agent, appeal, "rate", rating="satisfied", solved="yes", comment=text)

    # Then every text is stored as typed
    expected = hostile.as_form_field(text)
    reasons = list(
        AppealEvent.objects.filter(appeal=appeal)
        .exclude(action__in=["submit", "accept", "reply"])  # a reply is the appeal's field
        .order_by("pk")
        .values_list("action", "reason")
    )
    assert reasons == [
        (action, expected)
        for action in [
            "dispatch",
            "return",
            "reject_return",
            "suspend",
            "resume",
            "request_extension",
            "refuse_extension",
            "supplement",
            "rework",
            "approve_reply",
            "rate",
        ]
    ]
    row = Appeal.objects.get(pk=appeal.pk)
    assert (row.status, row.reply, row.rating_comment) == ("closed", expected, expected)
    assert ExtensionRequest.objects.get(appeal=appeal).reason == expected
    # And shown escaped on the console, and literally (line breaks as <br>) on the portal
    page = detail_html(world, appeal)
    assert page.count(str(escape(expected))) >= len(reasons)
    assert injected(page) == []
    citizen = client_for()
    tracked = citizen.post(
        "/track/", {"tracking_code": row.tracking_code, "phone": row.citizen_phone}
    )
    assert tracked.status_code == 302
    followup = citizen.get(tracked["Location"]).content.decode()
    shown = str(escape(hostile.as_browser_text(expected))).replace("\n", "<br>")
    assert shown in followup
    assert injected(followup) == []


@CORPUS
def test_portal_supplement_and_rating_comment_are_stored_exactly(world, text):
    # Given a citizen following their open appeal
    appeal = submitted(world, phone=PHONE)
    citizen = client_for()
    tracked = citizen.post("/track/", {"tracking_code": appeal.tracking_code, "phone": PHONE})
    assert tracked.status_code == 302

    # When they add hostile text, and later rate the closed appeal with it
    added = citizen.post(
        f"/track/{appeal.tracking_code}/supplement/", {"submission_key": "k-1", "text": text}
    )
    act(client_for(world["dispatcher"]), appeal, "dispatch", unit=str(world.town.pk))
    handler = client_for(world["town_handler"])
    act(handler, appeal, "accept")
    act(handler, appeal, "reply", reply="已处理。")
    act(client_for(world["dispatcher"]), appeal, "approve_reply")
    rated = citizen.post(
        f"/track/{appeal.tracking_code}/rate/",
        {"rating": "satisfied", "solved": "yes", "comment": text},
    )

    # Then both are stored as typed and the console shows them escaped
    assert (added.status_code, rated.status_code) == (302, 302)
    expected = hostile.as_form_field(text)
    supplement = AppealEvent.objects.get(appeal=appeal, action="supplement")
    assert supplement.reason == expected
    assert Appeal.objects.get(pk=appeal.pk).rating_comment == expected
    page = detail_html(world, appeal)
    assert page.count(str(escape(expected))) >= 2
    assert injected(page) == []


@CORPUS
def test_queue_search_echoes_hostile_text_escaped(world, text):
    # Given an appeal in the queue
    submitted(world)

    # When staff search the queue for hostile text (the search box shows it again)
    response = client_for(world["center_admin"]).get("/console/appeals/", {"q": text[:100]})

    # Then the page answers, with the text escaped in the box and nothing able to run
    assert response.status_code == 200
    page = response.content.decode()
    assert injected(page) == []
    assert str(escape(hostile.as_form_field(text[:100]))) in page


@CORPUS
def test_api_submission_is_stored_exactly_and_returned_as_sent(world, text):
    # Given a mini-program back end sending the hostile text in every text field
    body = {
        "appeal_type": "complaint",
        "content": text,
        "title": text[:100],
        "name": text[:50],
        "address": text[:200],
        "phone": PHONE,
    }

    # When it submits
    response = client_for().post("/api/v1/public/appeals", body, content_type="application/json")

    # Then the texts are stored (the service trims surrounding whitespace) and read back as JSON
    assert response.status_code == 201
    appeal = Appeal.objects.get(pk=response.json()["id"])
    assert appeal.content == text.strip()
    assert appeal.title == text[:100].strip()
    assert appeal.address == text[:200].strip()
    assert appeal.citizen_name == text[:50].strip()
    detail = client_for(world["center_admin"]).get(f"/api/v1/appeals/{appeal.pk}")
    assert detail.status_code == 200
    assert detail["Content-Type"] == "application/json; charset=utf-8"
    assert (detail.json()["content"], detail.json()["address"]) == (appeal.content, appeal.address)
    assert injected(detail_html(world, appeal)) == []


def test_a_long_line_at_the_content_limit_is_stored_whole(world):
    # Given a 5,000-character line without a space (the longest content a form accepts)
    line = hostile.long_line(5000)
    client = client_for()

    # When a citizen sends it
    response = client.post("/appeal/new/", portal_form(client, world, text=line))

    # Then it is stored whole and shown whole
    assert response.status_code == 302
    assert Appeal.objects.get().content == line
    assert line in detail_html(world, Appeal.objects.get())


# ---------------------------------------------------------------- refused, nothing changed


def _portal(world: World, text: str) -> int:
    client = client_for()
    return client.post("/appeal/new/", portal_form(client, world, text=text)).status_code


def _intake(world: World, text: str) -> int:
    return (
        client_for(world["agent"])
        .post("/console/intake/", intake_body(world, content=text))
        .status_code
    )


def _api(world: World, text: str) -> int:
    body = {"appeal_type": "complaint", "content": text, "phone": PHONE}
    return (
        client_for()
        .post("/api/v1/public/appeals", body, content_type="application/json")
        .status_code
    )


SUBMISSIONS = pytest.mark.parametrize(
    "send", [_portal, _intake, _api], ids=["portal", "intake", "api"]
)


@SUBMISSIONS
@pytest.mark.parametrize(
    "text",
    [hostile.NUL, hostile.LONG_LINE_10K, "   ", "\x00"],
    ids=["nul", "10k_line", "blank", "only_nul"],
)
def test_refused_text_is_a_422_and_stores_nothing(world, send, text):
    # When a submission carries NUL, a 10,000-character line or nothing at all
    status = send(world, text)

    # Then it is refused as unprocessable, and no appeal exists
    assert status == 422
    assert Appeal.objects.count() == 0


@pytest.mark.parametrize(
    ("name", "field", "value"),
    [
        ("reply", "reply", hostile.NUL),
        ("reply", "reply", hostile.LONG_LINE_10K),
        ("return", "reason", hostile.NUL),
        ("return", "reason", hostile.long_line(2001)),
        ("accept", "note", hostile.NUL),  # a field the form does not have is ignored
    ],
    ids=["reply_nul", "reply_10k", "return_nul", "return_2001", "accept_extra"],
)
def test_action_form_refuses_nul_and_over_long_text_and_changes_nothing(world, name, field, value):
    # Given an appeal the handler is working on (or, for accept, may accept)
    appeal = submitted(world)
    act(client_for(world["dispatcher"]), appeal, "dispatch", unit=str(world.town.pk))
    handler = client_for(world["town_handler"])
    if name != "accept":
        act(handler, appeal, "accept")
    before = state(appeal)

    # When the hostile text is sent
    response = handler.post(f"/console/appeals/{appeal.pk}/action/{name}/", {field: value})

    # Then it is refused and nothing changed (accept ignores the unknown field and succeeds)
    if name == "accept":
        assert response.status_code == 302
        assert AppealEvent.objects.filter(appeal=appeal).latest("pk").reason == ""
        return
    assert response.status_code == 422
    assert state(appeal) == before


def test_api_refuses_a_lone_surrogate_with_a_422(world):
    # Given JSON carrying "\ud800", which no UTF-8 text can hold
    body = f'{{"appeal_type": "complaint", "phone": "{PHONE}", "content": '
    body += hostile.LONE_SURROGATE_JSON + "}"

    # When it is submitted
    response = client_for().post("/api/v1/public/appeals", body, content_type="application/json")

    # Then it is a validation error, not a crash, and nothing is stored
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"
    assert Appeal.objects.count() == 0


def test_form_bytes_that_are_not_utf8_are_replaced_not_a_crash(world):
    # Given a form post whose text is not valid UTF-8 (a lone surrogate's bytes, then 0xFF)
    client = client_for()
    data = portal_form(client, world)
    encoded = "&".join(f"{k}={v}" for k, v in {**data, "text": "x"}.items() if k != "text")
    raw = encoded.encode() + b"&text=a%ED%A0%80b%FFc"

    # When it is sent
    response = client.post("/appeal/new/", raw, content_type="application/x-www-form-urlencoded")

    # Then the undecodable bytes arrive as U+FFFD and the text is stored with them
    assert response.status_code == 302
    assert Appeal.objects.get().content == "a\ufffd\ufffd\ufffdb\ufffdc"


@pytest.mark.parametrize(
    ("where", "body"),
    [
        ("portal", {"place": "9" * 400}),
        ("portal", {"category": "-" + "9" * 400}),
        ("portal", {"latitude": "1e999999", "longitude": "1"}),
        ("intake", {"territory": str(2**63)}),
        ("api", {"category_id": 10**30}),
        ("api", {"territory_id": -(2**63) - 1}),
        ("api", {"latitude": "1e999999", "longitude": 1}),
    ],
    ids=[
        "place",
        "category",
        "latitude",
        "intake_territory",
        "api_category",
        "api_territory",
        "api_latitude",
    ],
)
def test_huge_numbers_are_refused_with_a_4xx(world, where, body):
    # When a number no column can hold is sent where an id or a coordinate goes
    if where == "portal":
        client = client_for()
        response = client.post("/appeal/new/", portal_form(client, world, **body))
    elif where == "intake":
        response = client_for(world["agent"]).post("/console/intake/", intake_body(world, **body))
    else:
        payload = {"appeal_type": "complaint", "content": "路灯坏了", "phone": PHONE, **body}
        response = client_for().post(
            "/api/v1/public/appeals", json.dumps(payload), content_type="application/json"
        )

    # Then it is refused (never a 500) and nothing is stored
    assert response.status_code == 422
    assert Appeal.objects.count() == 0
