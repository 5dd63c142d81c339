"""Hotline intake and dispatch in the console: live caller look-up, the catalogue's suggestion,
type-to-search pickers (their no-JS selects), files kept across a refused form, co-units."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from minsheng.appeals.models import Appeal, AppealAssignment, AppealEvent, Attachment
from minsheng.appeals.views.console import CALLER_LOOKUP_RATE
from minsheng.org.choices import UnitKind
from minsheng.org.services import create_unit
from tests.appeals.factories import closed, dispatched, reload, submitted
from tests.appeals.test_console import intake_body as console_intake_body
from tests.conftest import World

pytestmark = pytest.mark.django_db

CALLER = "13800002222"
CALLER_URL = "/console/intake/caller/"
SUGGEST_URL = "/console/intake/suggest/"
INTAKE_URL = "/console/intake/"


@pytest.fixture(autouse=True)
def _isolated(settings: Any, tmp_path: Any) -> Iterator[None]:
    settings.MEDIA_ROOT = tmp_path
    cache.clear()  # rate-limit counters
    yield
    cache.clear()


def client_for(user: Any) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    return client


def photo(name: str = "hole.png", colour: tuple[int, int, int] = (200, 30, 30)) -> Any:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 12), colour).save(buffer, "PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


def intake_body(world: World, **overrides: Any) -> dict[str, Any]:
    """The console tests' hotline form, with this file's own submission key."""
    return console_intake_body(world, **{"key": "intake-key-1", **overrides})


def codes_in(html: str) -> list[str]:
    return re.findall(r'href="/console/appeals/\d+/">([0-9A-Z]+)</a>', html)


def action_url(appeal: Appeal, name: str) -> str:
    return f"/console/appeals/{appeal.pk}/action/{name}/"


def assignments(appeal: Appeal) -> list[tuple[str, str]]:
    return sorted(
        AppealAssignment.objects.filter(appeal=appeal, active=True).values_list(
            "unit__code", "role"
        )
    )


def state(appeal: Appeal) -> tuple[Any, ...]:
    row = reload(appeal)
    return (
        row.status,
        row.version,
        row.lead_unit_id,
        AppealEvent.objects.filter(appeal=appeal).count(),
        assignments(appeal),
    )


def form_fields(html: str, form_class: str) -> set[str]:
    """The names a form posts, read from the page as a browser without JavaScript would."""
    start = html.index(f'class="{form_class}')
    form = html[start : html.index("</form>", start)]
    return set(re.findall(r'<(?:input|select|textarea|button)[^>]*\sname="([a-z_]+)"', form))


# ---------------------------------------------------------------- live caller look-up


def test_caller_fragment_lists_the_callers_appeals_in_scope_with_masked_contact(world):
    # Given two earlier appeals from one caller, one in 和兴镇 and one in 青石镇, and another caller
    in_town = closed(world, phone=CALLER, name="王小明")
    elsewhere = submitted(world, phone=CALLER, name="王小明", territory=world.other_village)
    submitted(world, phone="13900003333")

    # When a city agent and a 和兴镇 dispatcher look the number up as it is typed
    city = client_for(world["agent"]).get(CALLER_URL, {"phone": "138 0000 2222"})
    town = client_for(world["town_dispatcher"]).get(CALLER_URL, {"phone": CALLER})

    # Then each sees the caller's appeals in their own scope, newest first, as a fragment
    assert city.status_code == town.status_code == 200
    assert codes_in(city.content.decode()) == [elsewhere.tracking_code, in_town.tracking_code]
    assert codes_in(town.content.decode()) == [in_town.tracking_code]
    page = city.content.decode()
    assert "<html" not in page
    # … with the name masked and the number never shown
    assert "王**" in page
    assert "王小明" not in page and CALLER not in page
    assert city["Cache-Control"] == "private, no-store"


def test_caller_fragment_runs_a_fixed_number_of_queries(world, django_assert_max_num_queries):
    # Given a caller with several earlier appeals
    for _ in range(5):
        submitted(world, phone=CALLER)
    client = client_for(world["agent"])
    # When the fragment is fetched, then it costs session, user, posts and one history query
    with django_assert_max_num_queries(4):
        response = client.get(CALLER_URL, {"phone": CALLER})
    assert len(codes_in(response.content.decode())) == 5


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "Enter the caller's phone number to see earlier appeals."),
        ("1380", "Earlier appeals show once the number is complete."),
        ("1380000", "Earlier appeals show once the number is complete."),
        ("call me", "This is not a phone number, so there is nothing to look up."),
        ("1" * 500, "This is not a phone number, so there is nothing to look up."),
        ("13800002222\x00", "This is not a phone number, so there is nothing to look up."),
    ],
)
def test_caller_fragment_for_an_unusable_number_is_a_plain_message(world, typed, message):
    submitted(world, phone=CALLER)
    response = client_for(world["agent"]).get(CALLER_URL, {"phone": typed})
    assert response.status_code == 200
    assert message in response.content.decode()
    assert codes_in(response.content.decode()) == []


def test_caller_fragment_needs_the_intake_permission(world):
    submitted(world, phone=CALLER)
    assert client_for(world["auditor"]).get(CALLER_URL, {"phone": CALLER}).status_code == 403
    anonymous = Client().get(CALLER_URL, {"phone": CALLER})
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith("/console/login/")


def test_caller_look_ups_are_rate_limited_per_account(world):
    # Given an agent who has looked up the allowed number of callers this minute
    earlier = submitted(world, phone=CALLER)
    agent = client_for(world["agent"])
    for _ in range(CALLER_LOOKUP_RATE):
        assert agent.get(CALLER_URL, {"phone": CALLER}).status_code == 200

    # When they look up once more, live or through the page without JavaScript
    live = agent.get(CALLER_URL, {"phone": CALLER})
    page = agent.post(INTAKE_URL, intake_body(world, phone=CALLER, intent="lookup"))

    # Then they are told to wait and see no history
    assert live.status_code == 429
    assert "Too many look-ups in a short time" in live.content.decode()
    assert earlier.tracking_code not in live.content.decode()
    assert page.status_code == 200
    assert page.context["lookup"].state == "limited"
    assert page.context["history"] == []
    # … while another account may still look up
    other = client_for(world["center_admin"]).get(CALLER_URL, {"phone": CALLER})
    assert codes_in(other.content.decode()) == [earlier.tracking_code]
    # … and incomplete numbers, which query nothing, are not counted
    assert agent.get(CALLER_URL, {"phone": "1380"}).status_code == 200


def test_without_javascript_the_lookup_button_shows_the_history_and_saves_nothing(world):
    earlier = closed(world, phone=CALLER)
    response = client_for(world["agent"]).post(
        INTAKE_URL, intake_body(world, phone=CALLER, intent="lookup")
    )
    assert response.status_code == 200
    assert [row["tracking_code"] for row in response.context["history"]] == [earlier.tracking_code]
    assert codes_in(response.content.decode()) == [earlier.tracking_code]
    assert Appeal.objects.count() == 1


def test_intake_page_wires_the_live_lookup_and_the_pickers(world):
    world.town.initials = "hxz"
    world.town.save()
    page = client_for(world["agent"]).get(INTAKE_URL).content.decode()
    # The phone asks for the history as it is typed, into the region under it
    phone = re.search(r'<input[^>]*name="phone"[^>]*>', page).group(0)
    assert 'hx-get="/console/intake/caller/"' in phone
    assert 'hx-target="#caller-history"' in phone
    assert 'id="caller-history" aria-live="polite"' in page
    # The category and place are selects the picker enhances, with codes and pinyin initials
    assert re.search(r'<select name="category"[^>]*data-picker', page)
    assert re.search(r'<select name="territory"[^>]*data-picker', page)
    assert f'<option value="{world.road.pk}" data-code="0101">' in page
    assert re.search(rf'<option value="{world.town.pk}" data-initials="hxz" data-code="T1"', page)
    # Scripts come from our static files, deferred, with no inline code
    assert re.search(r'<script src="/static/ui/vendor/htmx\.min\.js" defer></script>', page)
    assert re.search(r'<script src="/static/ui/picker\.js" defer></script>', page)
    assert not re.search(r"<script(?![^>]*\ssrc=)", page)
    assert "hx-on" not in page
    # An agent may not dispatch: no unit to choose, no "Register and dispatch"
    assert 'name="unit"' not in page
    assert 'value="dispatch"' not in page


# ---------------------------------------------------------------- the catalogue's suggestion


def test_suggest_fragment_names_the_catalogue_unit(world):
    response = client_for(world["agent"]).get(
        SUGGEST_URL, {"category": world.road.pk, "territory": world.village.pk}
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert "The dispatch catalogue suggests:" in page and world.town.name in page
    assert f'name="suggested_unit" value="{world.town.pk}"' in page
    assert "hx-swap-oob" not in page  # an agent has no unit to pre-fill


def test_suggest_fragment_preselects_the_unit_for_a_dispatcher(world):
    response = client_for(world["dispatcher"]).get(
        SUGGEST_URL,
        {
            "category": world.road.pk,
            "territory": world.village.pk,
            "unit": "",
            "suggested_unit": "",
        },
    )
    page = response.content.decode()
    select = re.search(
        r'<select name="unit" [^>]*hx-swap-oob="innerHTML"[^>]*>.*?</select>', page, re.S
    )
    assert select is not None
    assert re.findall(r'<option value="(\d+)" selected', select.group(0)) == [str(world.town.pk)]
    assert 'id="id_unit"' in select.group(0)


def test_suggest_fragment_keeps_a_unit_chosen_by_hand_and_follows_its_own_suggestion(world):
    dispatcher = client_for(world["dispatcher"])
    noise = {"category": world.noise.pk, "territory": world.village.pk}
    # A unit the dispatcher chose is left alone
    by_hand = dispatcher.get(
        SUGGEST_URL, {**noise, "unit": world.dept.pk, "suggested_unit": world.town.pk}
    )
    assert world.other_dept.name in by_hand.content.decode()
    assert "hx-swap-oob" not in by_hand.content.decode()
    # The previous suggestion is replaced by the new one
    followed = dispatcher.get(
        SUGGEST_URL, {**noise, "unit": world.town.pk, "suggested_unit": world.town.pk}
    ).content.decode()
    assert re.findall(r'<option value="(\d+)" selected', followed) == [str(world.other_dept.pk)]


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"category": "abc", "territory": "-1"},
        {"category": "999999", "territory": "999999"},
        {"category": "9" * 40},
        {"category": "-5", "territory": "1", "unit": "x", "suggested_unit": "%00"},
    ],
)
def test_suggest_fragment_with_unusable_parameters_suggests_nothing(world, params):
    response = client_for(world["dispatcher"]).get(SUGGEST_URL, params)
    assert response.status_code == 200
    assert "The dispatch catalogue suggests" not in response.content.decode()


def test_suggest_fragment_needs_the_intake_permission(world):
    params = {"category": world.road.pk}
    assert client_for(world["auditor"]).get(SUGGEST_URL, params).status_code == 403
    assert client_for(world["agent"]).post(SUGGEST_URL, params).status_code == 405


def test_without_javascript_the_suggestion_fills_an_empty_unit(world):
    response = client_for(world["dispatcher"]).post(
        INTAKE_URL, intake_body(world, unit="", intent="suggest")
    )
    assert response.status_code == 200
    assert response.context["form"]["unit"].value() == str(world.town.pk)
    assert response.context["suggestion"]["unit"] == world.town
    chosen = client_for(world["dispatcher"]).post(
        INTAKE_URL, intake_body(world, unit=str(world.dept.pk), intent="suggest")
    )
    assert chosen.context["form"]["unit"].value() == str(world.dept.pk)
    assert not Appeal.objects.exists()


def test_register_and_dispatch_uses_the_unit_or_the_catalogue(world):
    dispatcher = client_for(world["dispatcher"])
    # With the unit left empty: the catalogue's unit
    first = dispatcher.post(INTAKE_URL, intake_body(world, unit="", intent="dispatch"))
    suggested = Appeal.objects.get()
    assert first.status_code == 302
    assert (suggested.status, suggested.lead_unit_id) == ("dispatched", world.town.pk)
    # With a unit chosen: that unit
    dispatcher.post(
        INTAKE_URL,
        intake_body(world, key="intake-key-2", unit=str(world.dept.pk), intent="dispatch"),
    )
    chosen = Appeal.objects.exclude(pk=suggested.pk).get()
    assert (chosen.status, chosen.lead_unit_id) == ("dispatched", world.dept.pk)
    shown = [str(m) for m in dispatcher.get("/console/").context["messages"]]
    assert shown[-1] == f"Registered and dispatched to 住建局: {chosen.tracking_code}."


def test_register_and_dispatch_without_a_catalogue_entry_saves_nothing(world):
    response = client_for(world["dispatcher"]).post(
        INTAKE_URL, intake_body(world, category="", unit="", intent="dispatch")
    )
    assert response.status_code == 422
    assert response.context["form"].errors["unit"] == [
        "The dispatch catalogue names no unit; choose one."
    ]
    assert not Appeal.objects.exists()


def test_an_agent_cannot_register_and_dispatch(world):
    response = client_for(world["agent"]).post(
        INTAKE_URL, intake_body(world, unit=str(world.dept.pk), intent="dispatch")
    )
    assert response.status_code == 403
    assert not Appeal.objects.exists()


# ---------------------------------------------------------------- files


def test_intake_keeps_uploaded_files_when_the_form_is_refused(world):
    agent = client_for(world["agent"])
    # Given a call registered with a photo, but a wrong phone number
    refused = agent.post(INTAKE_URL, intake_body(world, phone="12", photos=photo()))
    # Then the page comes back with the photo kept server-side, not asked for again
    assert refused.status_code == 422
    assert not Appeal.objects.exists()
    kept = Attachment.objects.get()
    assert kept.appeal_id is None
    page = refused.content.decode()
    assert f'<input type="hidden" name="upload" value="{kept.upload_token}">' in page
    assert "hole.png" in page

    # When the agent corrects the number and sends again, without choosing the file again
    sent = agent.post(INTAKE_URL, intake_body(world, upload=kept.upload_token))

    # Then the appeal carries the photo
    appeal = Appeal.objects.get()
    assert sent.status_code == 302
    assert list(appeal.attachments.values_list("pk", flat=True)) == [kept.pk]


def test_intake_refuses_a_file_that_is_not_an_image_or_pdf(world):
    fake = SimpleUploadedFile("notes.png", b"just text", content_type="image/png")
    response = client_for(world["agent"]).post(INTAKE_URL, intake_body(world, photos=fake))
    assert response.status_code == 422
    assert response.context["uploads"].errors == [
        "notes.png: Only JPEG, PNG and PDF files are accepted."
    ]
    assert not Appeal.objects.exists()
    assert not Attachment.objects.exists()


def test_intake_refuses_more_than_six_files_and_keeps_them(world):
    files = [photo(f"p{i}.png", (i * 30, 10, 10)) for i in range(7)]
    response = client_for(world["agent"]).post(INTAKE_URL, intake_body(world, photos=files))
    assert response.status_code == 422
    assert response.context["uploads"].errors[0].startswith("Too many attachments")
    assert not Appeal.objects.exists()
    assert Attachment.objects.filter(appeal__isnull=True).count() == 7
    assert response.content.decode().count('name="remove_upload"') == 7


def test_detail_adds_an_attachment_for_who_may_add_information(world):
    appeal = dispatched(world)
    agent = client_for(world["agent"])
    form = agent.get(f"/console/appeals/{appeal.pk}/").content.decode()
    assert 'data-action="supplement"' in form and 'enctype="multipart/form-data"' in form
    # When the agent adds a photo (no text) to the appeal
    response = agent.post(action_url(appeal, "supplement"), {"text": "", "photos": photo()})
    # Then it is attached, recorded in the timeline and listed on the page
    assert response.status_code == 302
    attachment = Attachment.objects.get()
    assert attachment.appeal_id == appeal.pk
    event = AppealEvent.objects.filter(appeal=appeal, action="supplement").get()
    assert event.data == {"attachments": 1}
    page = agent.get(f"/console/appeals/{appeal.pk}/").content.decode()
    assert f"/api/v1/appeals/{appeal.pk}/attachments/{attachment.pk}" in page


def test_detail_keeps_the_file_when_the_information_is_refused(world):
    appeal = dispatched(world)
    agent = client_for(world["agent"])
    before = state(appeal)
    response = agent.post(action_url(appeal, "supplement"), {"text": "x" * 5001, "photos": photo()})
    assert response.status_code == 422
    kept = Attachment.objects.get()
    assert kept.appeal_id is None
    assert f'name="upload" value="{kept.upload_token}"' in response.content.decode()
    assert state(appeal) == before
    agent.post(action_url(appeal, "supplement"), {"text": "补充照片", "upload": kept.upload_token})
    assert list(reload(appeal).attachments.values_list("pk", flat=True)) == [kept.pk]


def test_a_handler_may_not_add_attachments_and_nothing_is_stored(world):
    appeal = dispatched(world)
    before = state(appeal)
    response = client_for(world["town_handler"]).post(
        action_url(appeal, "supplement"), {"text": "照片", "photos": photo()}
    )
    assert response.status_code == 403
    assert not Attachment.objects.exists()
    assert state(appeal) == before


# ---------------------------------------------------------------- co-units


def test_dispatch_with_co_units_from_the_detail_page(world):
    appeal = submitted(world)
    dispatcher = client_for(world["dispatcher"])
    page = dispatcher.get(f"/console/appeals/{appeal.pk}/").content.decode()
    assert re.search(r'<select name="co_units"[^>]*data-picker[^>]*multiple', page)
    response = dispatcher.post(
        action_url(appeal, "dispatch"),
        {"unit": str(world.town.pk), "co_units": [str(world.dept.pk), str(world.other_dept.pk)]},
    )
    assert response.status_code == 302
    assert assignments(appeal) == [("D1", "co"), ("D2", "co"), ("T1", "lead")]
    event = AppealEvent.objects.get(appeal=appeal, action="dispatch")
    assert event.data == {"co_units": [world.dept.pk, world.other_dept.pk]}
    detail = dispatcher.get(f"/console/appeals/{appeal.pk}/").content.decode()
    assert "住建局, 环保局" in detail


def test_dispatch_to_the_catalogue_unit_drops_it_from_the_co_units(world):
    appeal = submitted(world)
    client_for(world["dispatcher"]).post(
        action_url(appeal, "dispatch"), {"unit": "", "co_units": [str(world.town.pk)]}
    )
    assert assignments(appeal) == [("T1", "lead")]
    assert AppealEvent.objects.get(appeal=appeal, action="dispatch").data == {"co_units": []}


@pytest.mark.parametrize(
    ("co_units", "error"),
    [
        (["town"], "The lead unit cannot also be a co-unit."),
        (["city"], "Select a valid choice."),
        (["missing"], "Select a valid choice."),
        (["dept", "other_dept", "village", "other_town", "other_village", "extra"], "at most 5"),
    ],
)
def test_co_units_are_checked_and_a_refusal_changes_nothing(world, co_units, error):
    extra = create_unit(name="水务局", code="D3", kind=UnitKind.DEPARTMENT, parent=world.city)
    ids = {
        "town": world.town.pk,
        "city": world.city.pk,
        "missing": 999999,
        "dept": world.dept.pk,
        "other_dept": world.other_dept.pk,
        "village": world.village.pk,
        "other_town": world.other_town.pk,
        "other_village": world.other_village.pk,
        "extra": extra.pk,
    }
    appeal = submitted(world)
    before = state(appeal)
    response = client_for(world["dispatcher"]).post(
        action_url(appeal, "dispatch"),
        {"unit": str(world.town.pk), "co_units": [str(ids[name]) for name in co_units]},
    )
    assert response.status_code == 422
    form = next(a["form"] for a in response.context["action_forms"] if a["name"] == "dispatch")
    assert error in " ".join(form.errors["co_units"])
    assert state(appeal) == before


def test_redispatch_replaces_the_co_units(world):
    appeal = dispatched(world)
    client_for(world["dispatcher"]).post(
        action_url(appeal, "redispatch"),
        {"unit": str(world.dept.pk), "co_units": [str(world.other_town.pk)], "reason": "改派"},
    )
    assert assignments(appeal) == [("D1", "lead"), ("T2", "co")]


def test_a_co_unit_handler_sees_the_appeal_but_may_not_act_on_it(world):
    # Given an appeal led by 和兴镇 with 住建局 as co-unit
    appeal = submitted(world)
    dispatcher = client_for(world["dispatcher"])
    dispatcher.post(
        action_url(appeal, "dispatch"),
        {"unit": str(world.town.pk), "co_units": [str(world.dept.pk)]},
    )
    dept = client_for(world["dept_handler"])
    # Then 住建局's handler finds it in the queue and opens it, with nothing to do
    queue = dept.get("/console/appeals/")
    assert [row["tracking_code"] for row in queue.context["rows"]] == [appeal.tracking_code]
    detail = dept.get(f"/console/appeals/{appeal.pk}/")
    assert detail.status_code == 200
    assert re.findall(r'data-action="([a-z_]+)"', detail.content.decode()) == []
    # … and may not accept it for the lead unit
    before = state(appeal)
    assert dept.post(action_url(appeal, "accept")).status_code == 403
    assert state(appeal) == before
    # … while the other township's handler does not see it at all
    assert (
        client_for(world["other_handler"]).get(f"/console/appeals/{appeal.pk}/").status_code == 404
    )
    # When it is redispatched without co-units, 住建局 no longer sees it
    dispatcher.post(
        action_url(appeal, "redispatch"), {"unit": str(world.other_dept.pk), "reason": "改派"}
    )
    assert dept.get(f"/console/appeals/{appeal.pk}/").status_code == 404


def test_bulk_dispatch_with_co_units(world):
    first, second = submitted(world), submitted(world)
    dispatcher = client_for(world["dispatcher"])
    response = dispatcher.post(
        "/console/appeals/bulk-dispatch/",
        {"ids": [first.pk, second.pk], "unit": str(world.town.pk), "co_units": [world.dept.pk]},
    )
    assert response.status_code == 302
    assert assignments(first) == assignments(second) == [("D1", "co"), ("T1", "lead")]


def test_bulk_dispatch_refuses_the_lead_as_a_co_unit_and_changes_nothing(world):
    appeal = submitted(world)
    before = state(appeal)
    dispatcher = client_for(world["dispatcher"])
    dispatcher.post(
        "/console/appeals/bulk-dispatch/",
        {"ids": [appeal.pk], "unit": str(world.town.pk), "co_units": [world.town.pk]},
    )
    assert state(appeal) == before
    shown = [str(m) for m in dispatcher.get("/console/").context["messages"]]
    assert shown == ["The lead unit cannot also be a co-unit."]


# ---------------------------------------------------------------- no-JS forms post the same fields


def test_without_javascript_the_forms_post_the_fields_the_server_reads(world):
    dispatcher = client_for(world["dispatcher"])
    intake = dispatcher.get(INTAKE_URL).content.decode()
    assert 'enctype="multipart/form-data"' in intake
    assert form_fields(intake, "card intake") == {
        "csrfmiddlewaretoken",
        "key",
        "phone",
        "name",
        "anonymous",
        "channel",
        "appeal_type",
        "urgency",
        "category",
        "territory",
        "unit",
        "address",
        "content",
        "photos",
        "reply",
        "intent",
    }
    appeal = submitted(world)
    detail = dispatcher.get(f"/console/appeals/{appeal.pk}/").content.decode()
    start = detail.index('data-action="dispatch"')
    dispatch = detail[start : detail.index("</form>", start)]
    names = set(re.findall(r'<(?:input|select|textarea)[^>]*\sname="([a-z_]+)"', dispatch))
    assert names == {"csrfmiddlewaretoken", "unit", "co_units", "note"}
    assert re.search(r'<select name="co_units"[^>]*multiple', dispatch)
