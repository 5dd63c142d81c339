"""The citizen portal: submit, confirm, follow, add, rate — without JavaScript, nothing lost."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from minsheng.appeals import services
from minsheng.appeals.choices import Channel, Rating, Status
from minsheng.appeals.models import Appeal, AppealEvent, Attachment
from tests.appeals import factories
from tests.conftest import World

pytestmark = pytest.mark.django_db

PHONE = "13912345678"


@pytest.fixture(autouse=True)
def _isolated(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path
    cache.clear()  # rate-limit counters


@pytest.fixture
def client() -> Client:
    """A citizen's browser, in English so messages can be read in assertions."""
    return Client(HTTP_ACCEPT_LANGUAGE="en")


def photo(name: str = "hole.png", colour: tuple[int, int, int] = (200, 30, 30)) -> Any:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 12), colour).save(buffer, "PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


def new_form(client: Client, world: World, **overrides: Any) -> dict[str, Any]:
    """What a citizen sends from a freshly opened submit page."""
    page = client.get("/appeal/new/")
    assert page.status_code == 200
    data = {
        "submission_key": page.context["form"]["submission_key"].value(),
        "appeal_type": "complaint",
        "category": str(world.road.pk),
        "place": str(world.village.pk),
        "address": "村口石桥",
        "text": "村口道路塌陷，晚上有人摔倒。",
        "name": "王小明",
        "phone": PHONE,
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def tracked(client: Client, appeal: Appeal, phone: str | None = None) -> Any:
    return client.post(
        "/track/",
        {"tracking_code": appeal.tracking_code, "phone": phone or appeal.citizen_phone},
    )


# ---------------------------------------------------------------- home and language


def test_home_offers_the_two_actions_in_english(client: Client, world: World) -> None:
    response = client.get("/")
    body = response.content.decode()
    assert response.status_code == 200
    assert '<html lang="en"' in body
    assert 'href="/appeal/new/"' in body
    assert 'href="/track/"' in body
    assert "Submit an appeal" in body
    assert "Follow my appeal" in body
    assert "What happens next" in body
    assert "<main" in body


def test_submit_page_renders_in_english_with_grouped_choices(client: Client, world: World) -> None:
    body = client.get("/appeal/new/").content.decode()
    assert '<html lang="en"' in body
    assert "Send my appeal" in body
    assert '<optgroup label="城乡建设">' in body
    assert f'<option value="{world.road.pk}">道路</option>' in body
    assert '<optgroup label="和兴镇">' in body
    assert f'<option value="{world.village.pk}">东村</option>' in body
    assert 'type="file" id="id_photos" name="photos" multiple' in body
    assert 'accept="image/jpeg,image/png,application/pdf"' in body
    assert 'name="submission_key"' in body
    # every visible input has a label (radio buttons sit inside theirs)
    controls = re.findall(
        r'<(?:input|select|textarea)(?![^>]*type="hidden")[^>]*\bid="([^"]+)"', body
    )
    assert len(controls) == 14
    for input_id in controls:
        assert f'for="{input_id}"' in body or input_id.startswith("id_appeal_type_")


def test_chinese_is_the_default_language(world: World) -> None:
    body = Client().get("/").content.decode()
    assert '<html lang="zh-CN"' in body


def test_home_headings_are_chinese_by_default_and_english_on_request(world: World) -> None:
    chinese = Client().get("/").content.decode()
    english = Client(HTTP_ACCEPT_LANGUAGE="en").get("/").content.decode()
    headings = {
        "Submit an appeal": "我要反映问题",
        "Follow my appeal": "查询我的诉求",
        "What happens next": "接下来怎么办理",
        "Good to know": "温馨提示",
        "Skip to content": "跳到主要内容",
        "Elder-friendly mode": "长辈模式",
    }
    for english_text, chinese_text in headings.items():
        assert chinese_text in chinese
        assert english_text not in chinese
        assert english_text in english
        assert chinese_text not in english


# ---------------------------------------------------------------- submit


def test_submit_creates_a_web_portal_appeal_and_shows_its_code(
    client: Client, world: World
) -> None:
    response = client.post("/appeal/new/", new_form(client, world))

    appeal = Appeal.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/appeal/done/{appeal.tracking_code}/"
    assert appeal.channel == Channel.WEB_PORTAL
    assert appeal.appeal_type == "complaint"
    assert appeal.category == world.road
    assert appeal.territory == world.village
    assert appeal.address == "村口石桥"
    assert appeal.citizen_phone == PHONE
    assert appeal.citizen_name == "王小明"
    assert appeal.intake_by is None

    done = client.get(response["Location"])
    body = done.content.decode()
    code = appeal.tracking_code
    assert done.status_code == 200
    assert f"<span>{code[:3]}</span> <span>{code[3:6]}</span> <span>{code[6:]}</span>" in body
    assert "139****5678" in body
    assert PHONE not in body
    assert f'href="/track/{code}/"' in body


def test_bad_phone_with_a_photo_keeps_everything_and_saves_nothing(
    client: Client, world: World
) -> None:
    data = new_form(client, world, phone="139123456789", photos=photo())

    response = client.post("/appeal/new/", data)

    body = response.content.decode()
    assert response.status_code == 422
    assert Appeal.objects.count() == 0
    assert AppealEvent.objects.count() == 0
    form = response.context["form"]
    assert list(form.errors) == ["phone"]
    assert form.errors["phone"] == ["This is not a valid phone number."]
    assert 'id="id_phone_error"' in body
    assert 'aria-describedby="id_phone_hint id_phone_error"' in body
    assert "村口道路塌陷，晚上有人摔倒。</textarea>" in body
    assert 'value="村口石桥"' in body
    assert f'value="{data["submission_key"]}"' in body
    [kept] = Attachment.objects.all()
    assert kept.appeal_id is None
    assert f'<input type="hidden" name="upload" value="{kept.upload_token}">' in body
    assert "hole.png" in body
    assert f'name="remove_upload" value="{kept.upload_token}"' in body

    # The citizen fixes the phone and sends the same page again, without choosing the photo.
    data.pop("photos")
    again = client.post("/appeal/new/", {**data, "phone": PHONE, "upload": kept.upload_token})

    appeal = Appeal.objects.get()
    assert again.status_code == 302
    assert again["Location"] == f"/appeal/done/{appeal.tracking_code}/"
    assert list(appeal.attachments.values_list("original_name", flat=True)) == ["hole.png"]
    assert Attachment.objects.count() == 1


def test_a_ticked_photo_is_removed_on_the_next_send(client: Client, world: World) -> None:
    data = new_form(client, world, phone="", photos=[photo("a.png"), photo("b.png", (1, 2, 3))])
    first = client.post("/appeal/new/", data)
    assert first.context["form"].errors["phone"] == [
        "A phone number is required unless the appeal is anonymous."
    ]
    a, b = first.context["uploads"].items
    data.pop("photos")

    client.post(
        "/appeal/new/",
        {
            **data,
            "phone": PHONE,
            "upload": [a.upload_token, b.upload_token],
            "remove_upload": a.upload_token,
        },
    )

    appeal = Appeal.objects.get()
    assert list(appeal.attachments.values_list("original_name", flat=True)) == ["b.png"]


def test_a_file_that_is_not_a_photo_is_refused_next_to_the_photo_field(
    client: Client, world: World
) -> None:
    fake = SimpleUploadedFile("virus.jpg", b"MZ\x90\x00 not a picture", content_type="image/jpeg")

    response = client.post("/appeal/new/", new_form(client, world, photos=fake))

    body = response.content.decode()
    assert response.status_code == 422
    assert Appeal.objects.count() == 0
    assert Attachment.objects.count() == 0
    assert response.context["uploads"].errors == [
        "virus.jpg: Only JPEG, PNG and PDF files are accepted."
    ]
    assert 'id="id_photos_error"' in body
    assert 'href="#id_photos"' in body


def test_missing_text_and_unknown_place_are_reported_and_nothing_is_saved(
    client: Client, world: World
) -> None:
    response = client.post(
        "/appeal/new/", new_form(client, world, text="  ", place=str(world.dept.pk))
    )

    assert response.status_code == 422
    assert set(response.context["form"].errors) == {"text", "place"}
    assert Appeal.objects.count() == 0


def test_anonymous_appeal_needs_no_phone(client: Client, world: World) -> None:
    response = client.post("/appeal/new/", new_form(client, world, phone="", anonymous="on"))

    appeal = Appeal.objects.get()
    assert response.status_code == 302
    assert appeal.is_anonymous is True
    assert appeal.citizen_phone == ""
    assert appeal.citizen_name == ""
    body = client.get(response["Location"]).content.decode()
    assert "this code alone lets you follow your appeal" in body


def test_the_same_page_sent_twice_creates_one_appeal(client: Client, world: World) -> None:
    data = new_form(client, world)

    first = client.post("/appeal/new/", data)
    second = client.post("/appeal/new/", data)

    assert Appeal.objects.count() == 1
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]


def test_a_double_click_with_a_photo_creates_one_appeal(client: Client, world: World) -> None:
    data = new_form(client, world)

    first = client.post("/appeal/new/", {**data, "photos": photo()})
    second = client.post("/appeal/new/", {**data, "photos": photo()})

    appeal = Appeal.objects.get()
    assert first["Location"] == second["Location"] == f"/appeal/done/{appeal.tracking_code}/"
    assert appeal.attachments.count() == 1


def test_a_sent_page_edited_and_sent_again_gets_a_fresh_key(client: Client, world: World) -> None:
    data = new_form(client, world)
    client.post("/appeal/new/", data)

    response = client.post("/appeal/new/", {**data, "text": "另一件事"})

    assert response.status_code == 422
    assert Appeal.objects.count() == 1
    assert response.context["form"].data["submission_key"] != data["submission_key"]
    assert "This form was already sent once." in response.content.decode()


def test_confirmation_of_someone_elses_code_is_not_found(client: Client, world: World) -> None:
    other = factories.submitted(world)

    assert client.get(f"/appeal/done/{other.tracking_code}/").status_code == 404
    assert client.get(f"/appeal/done/{other.tracking_code}/code.txt").status_code == 404


def test_the_code_can_be_saved_as_a_text_file(client: Client, world: World) -> None:
    client.post("/appeal/new/", new_form(client, world))
    code = Appeal.objects.get().tracking_code

    response = client.get(f"/appeal/done/{code}/code.txt")

    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="appeal-{code}.txt"'
    assert f"{code[:3]} {code[3:6]} {code[6:]}" in response.content.decode()


# ---------------------------------------------------------------- follow


def test_tracking_with_a_wrong_phone_says_so_plainly(client: Client, world: World) -> None:
    appeal = factories.submitted(world)

    response = tracked(client, appeal, phone="13800000000")

    assert response.status_code == 404
    assert "No appeal matches this tracking code and phone number." in response.content.decode()
    assert client.get(f"/track/{appeal.tracking_code}/").status_code == 302  # not remembered


def test_tracking_shows_the_public_timeline_without_staff_names(
    client: Client, world: World
) -> None:
    appeal = factories.in_progress(world)
    services.suspend_appeal(appeal=appeal, actor=world["town_handler"], reason="内部备注：等施工队")
    services.resume_appeal(appeal=appeal, actor=world["town_handler"])

    response = tracked(client, appeal)

    assert response.status_code == 302
    assert response["Location"] == f"/track/{appeal.tracking_code}/"
    assert appeal.citizen_phone not in response["Location"]
    page = client.get(response["Location"])
    body = page.content.decode()
    assert page.status_code == 200
    assert re.findall(r'data-action="(\w+)"', body) == [
        "submit",
        "dispatch",
        "accept",
        "suspend",
        "resume",
    ]
    assert "Sent to 和兴镇 to handle" in body
    for username in ("agent", "dispatcher", "town_handler"):
        assert username not in body
    assert "内部备注" not in body
    assert "Add information or photos" in body
    assert "Tell us what you think" not in body


def test_tracking_code_is_read_loosely(client: Client, world: World) -> None:
    appeal = factories.submitted(world)
    spaced = " ".join(services.normalize_tracking_code(appeal.tracking_code)).lower()

    response = client.post("/track/", {"tracking_code": spaced, "phone": appeal.citizen_phone})

    assert response.status_code == 302


def test_tracking_is_rate_limited(client: Client, world: World, settings: Any) -> None:
    settings.MINSHENG_TRACKING_RATE = 2
    appeal = factories.submitted(world)
    for _ in range(2):
        assert tracked(client, appeal, phone="13800000000").status_code == 404

    response = tracked(client, appeal)

    assert response.status_code == 429
    assert "Too many requests; please wait a minute." in response.content.decode()


def test_supplement_on_an_open_appeal(client: Client, world: World) -> None:
    appeal = factories.in_progress(world)
    tracked(client, appeal)
    page = client.get(f"/track/{appeal.tracking_code}/")
    key = page.context["supplement_form"]["submission_key"].value()

    response = client.post(
        f"/track/{appeal.tracking_code}/supplement/",
        {"submission_key": key, "text": "塌陷范围扩大了。", "photos": photo()},
    )
    again = client.post(
        f"/track/{appeal.tracking_code}/supplement/",
        {"submission_key": key, "text": "塌陷范围扩大了。", "photos": photo()},
    )

    assert response.status_code == again.status_code == 302
    [event] = AppealEvent.objects.filter(appeal=appeal, action="supplement")
    assert event.reason == "塌陷范围扩大了。"
    assert event.actor_id is None
    assert appeal.attachments.count() == 1
    after = client.get(f"/track/{appeal.tracking_code}/").content.decode()
    assert "Thank you. What you added is now with your appeal." in after
    assert 'data-action="supplement"' in after


def test_an_empty_supplement_is_refused_and_nothing_changes(client: Client, world: World) -> None:
    appeal = factories.in_progress(world)
    tracked(client, appeal)
    events = AppealEvent.objects.count()

    response = client.post(
        f"/track/{appeal.tracking_code}/supplement/", {"submission_key": "k1", "text": ""}
    )

    assert response.status_code == 422
    assert response.context["supplement_form"].errors["text"] == [
        "A reason is required for this action."
    ]
    assert AppealEvent.objects.count() == events


def test_supplement_or_rating_needs_a_looked_up_code(client: Client, world: World) -> None:
    appeal = factories.closed(world)

    rate = client.post(
        f"/track/{appeal.tracking_code}/rate/", {"rating": "satisfied", "solved": "yes"}
    )
    add = client.post(f"/track/{appeal.tracking_code}/supplement/", {"text": "x"})

    assert rate.status_code == add.status_code == 404
    assert factories.reload(appeal).rating == ""


def test_rating_a_closed_appeal(client: Client, world: World) -> None:
    appeal = factories.closed(world)
    tracked(client, appeal)
    page = client.get(f"/track/{appeal.tracking_code}/").content.decode()
    assert "The answer" in page
    assert "已修复路面。" in page
    assert "Tell us what you think of the answer" in page
    assert "Add information or photos" not in page

    response = client.post(
        f"/track/{appeal.tracking_code}/rate/",
        {"rating": "basically_satisfied", "solved": "yes", "comment": "修得挺快"},
    )

    assert response.status_code == 302
    appeal = factories.reload(appeal)
    assert appeal.rating == Rating.BASICALLY_SATISFIED
    assert appeal.solved is True
    assert appeal.rating_comment == "修得挺快"
    assert appeal.status == Status.CLOSED
    after = client.get(f"/track/{appeal.tracking_code}/").content.decode()
    assert "Tell us what you think of the answer" not in after
    assert "Thank you for your answer." in after


def test_rating_twice_is_refused_and_changes_nothing(client: Client, world: World) -> None:
    appeal = factories.closed(world)
    tracked(client, appeal)
    client.post(f"/track/{appeal.tracking_code}/rate/", {"rating": "satisfied", "solved": "yes"})
    events = AppealEvent.objects.count()

    response = client.post(
        f"/track/{appeal.tracking_code}/rate/",
        {"rating": "unsatisfied", "solved": "no", "comment": "改主意了"},
    )

    assert response.status_code == 409
    assert "This reply has already been rated." in response.content.decode()
    appeal = factories.reload(appeal)
    assert appeal.rating == Rating.SATISFIED
    assert appeal.solved is True
    assert appeal.status == Status.CLOSED
    assert AppealEvent.objects.count() == events


def test_rating_without_an_answer_keeps_the_choice(client: Client, world: World) -> None:
    appeal = factories.closed(world)
    tracked(client, appeal)

    response = client.post(f"/track/{appeal.tracking_code}/rate/", {"rating": "satisfied"})

    assert response.status_code == 422
    assert list(response.context["rate_form"].errors) == ["solved"]
    assert 'value="satisfied"' in response.content.decode()
    assert factories.reload(appeal).rating == ""


# ---------------------------------------------------------------- elder mode


def test_elder_mode_is_remembered_by_the_browser(client: Client, world: World) -> None:
    response = client.post("/ui/elder-mode/", {"next": "/appeal/new/"})

    assert response.status_code == 302
    assert response["Location"] == "/appeal/new/"
    assert response.cookies["ms_elder"].value == "1"
    assert 'class="elder"' in client.get("/").content.decode()
    assert 'class="elder"' in client.get("/appeal/new/").content.decode()


# ---------------------------------------------------------------- "use my location"


def test_the_phones_position_is_kept_to_six_decimals(client: Client, world: World) -> None:
    data = new_form(client, world, latitude="39.904211987", longitude="116.407394512")
    response = client.post("/appeal/new/", data)
    assert response.status_code == 302
    appeal = Appeal.objects.get()
    assert (str(appeal.latitude), str(appeal.longitude)) == ("39.904212", "116.407395")


def test_no_position_is_fine(client: Client, world: World) -> None:
    response = client.post("/appeal/new/", new_form(client, world, latitude="", longitude=""))
    assert response.status_code == 302
    assert Appeal.objects.get().latitude is None


@pytest.mark.parametrize(
    ("latitude", "longitude"),
    [("39.9", ""), ("", "116.4"), ("91", "116.4"), ("39.9", "-181"), ("north", "east")],
)
def test_a_broken_position_is_refused_left_out_and_the_rest_kept(
    client: Client, world: World, latitude: str, longitude: str
) -> None:
    data = new_form(client, world, latitude=latitude, longitude=longitude)
    response = client.post("/appeal/new/", data)
    assert response.status_code == 422
    assert Appeal.objects.count() == 0
    page = response.content.decode()
    assert "Your location could not be read. Send again without it." in page
    assert "村口道路塌陷，晚上有人摔倒。" in page
    form = response.context["form"]
    assert (form["latitude"].value(), form["longitude"].value()) == ("", "")

    # Sent again as the page now stands, it goes through without a position.
    again = {**data, "latitude": "", "longitude": ""}
    assert client.post("/appeal/new/", again).status_code == 302
    assert Appeal.objects.get().latitude is None


def test_the_location_box_is_offered_only_through_its_script(client: Client, world: World) -> None:
    page = client.get("/appeal/new/").content.decode()
    assert re.search(r'<div class="field locate" data-locate hidden', page)
    assert '<script src="/static/ui/locate.js" defer></script>' in page
