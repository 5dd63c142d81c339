"""The HTTP API: citizen submission with Idempotency-Key, tracking, errors, staff endpoints."""

from __future__ import annotations

import json

import pytest
from django.core.cache import cache
from django.test import Client

from minsheng.appeals.models import Appeal, AppealEvent
from minsheng.core.models import AuditRecord
from minsheng.org.services import create_api_token, revoke_api_token
from tests.appeals.factories import closed, dispatched, reload, submitted

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clear_rate_limits():
    cache.clear()


def post(client: Client, url: str, body: dict, **headers) -> tuple[int, dict]:
    response = client.post(
        url, data=json.dumps(body), content_type="application/json", headers=headers
    )
    return response.status_code, response.json()


def citizen_body(world, **overrides) -> dict:
    body = {
        "appeal_type": "complaint",
        "content": "小区楼下烧烤摊油烟很大，晚上十二点还在营业。",
        "phone": "13912345678",
        "name": "李四",
        "category_id": world.noise.pk,
        "territory_id": world.village.pk,
        "channel": "mini_program",
    }
    body.update(overrides)
    return body


def test_citizen_submits_and_tracks(world):
    client = Client()
    status, body = post(client, "/api/v1/public/appeals", citizen_body(world))
    assert status == 201
    appeal = Appeal.objects.get()
    assert body["tracking_code"] == appeal.tracking_code
    assert (appeal.channel, appeal.citizen_phone, appeal.intake_by) == (
        "mini_program",
        "13912345678",
        None,
    )
    status, view = post(
        client,
        "/api/v1/public/appeals/track",
        {"tracking_code": appeal.tracking_code.lower(), "phone": "13912345678"},
    )
    assert status == 200
    assert view["status"] == "received"
    assert [e["action"] for e in view["timeline"]] == ["submit"]


def test_idempotent_submission_creates_one_appeal(world):
    client = Client()
    body = citizen_body(world)
    first = post(client, "/api/v1/public/appeals", body, **{"Idempotency-Key": "k-1"})
    again = post(client, "/api/v1/public/appeals", body, **{"Idempotency-Key": "k-1"})
    assert first[0] == again[0] == 201
    assert first[1] == again[1]
    assert Appeal.objects.count() == 1
    other = post(
        client,
        "/api/v1/public/appeals",
        citizen_body(world, content="另一件事"),
        **{"Idempotency-Key": "k-1"},
    )
    assert other[0] == 422
    assert other[1]["code"] == "idempotency_key_reused"
    assert Appeal.objects.count() == 1


def test_failed_submission_can_be_retried_with_the_same_key(world):
    client = Client()
    bad = post(
        client,
        "/api/v1/public/appeals",
        citizen_body(world, phone="123"),
        **{"Idempotency-Key": "k-2"},
    )
    assert bad[0] == 422 and bad[1]["code"] == "invalid_phone"
    good = post(
        client,
        "/api/v1/public/appeals",
        citizen_body(world, phone="123"),
        **{"Idempotency-Key": "k-2"},
    )
    assert good[0] == 422  # same input, same answer, still nothing stored
    assert Appeal.objects.count() == 0


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"content": ""}, 422, "validation_error"),
        ({"content": "长" * 5001}, 422, "validation_error"),
        ({"appeal_type": "gossip"}, 422, "validation_error"),
        ({"category_id": "abc"}, 422, "validation_error"),
        ({"category_id": 999999}, 422, "unknown_category"),
        ({"territory_id": 999999}, 422, "unknown_territory"),
        ({"phone": ""}, 422, "contact_required"),
        ({"phone": "12"}, 422, "invalid_phone"),
        ({"channel": "hotline"}, 403, "not_permitted"),
        ({"uploads": ["nope"]}, 422, "unknown_upload"),
        ({"latitude": 91}, 422, "validation_error"),
    ],
)
def test_bad_submissions_get_clear_errors_and_change_nothing(world, change, status, code):
    audit_before = AuditRecord.objects.count()
    got_status, body = post(Client(), "/api/v1/public/appeals", citizen_body(world, **change))
    assert (got_status, body["code"]) == (status, code)
    assert set(body) == {"code", "message", "details"}
    assert Appeal.objects.count() == 0
    assert AuditRecord.objects.count() == audit_before


def test_error_messages_follow_the_language(world):
    zh = post(Client(), "/api/v1/public/appeals", citizen_body(world, phone="12"))[1]
    en = post(
        Client(),
        "/api/v1/public/appeals",
        citizen_body(world, phone="12"),
        **{"Accept-Language": "en"},
    )[1]
    assert en["message"] == "This is not a valid phone number."
    assert zh["message"] != en["message"]


def test_malformed_json_is_a_4xx(world):
    response = Client().post(
        "/api/v1/public/appeals", data="{not json", content_type="application/json"
    )
    assert (response.status_code, response.json()["code"]) == (400, "bad_request")
    assert Appeal.objects.count() == 0


def test_tracking_needs_the_matching_phone_and_is_rate_limited(world, settings):
    settings.MINSHENG_TRACKING_RATE = 3
    appeal = submitted(world, phone="13700000001")
    client = Client()
    wrong = post(
        client,
        "/api/v1/public/appeals/track",
        {"tracking_code": appeal.tracking_code, "phone": "13700000002"},
    )
    assert wrong == (404, wrong[1]) and wrong[1]["code"] == "tracking_not_found"
    ok = post(
        client,
        "/api/v1/public/appeals/track",
        {"tracking_code": appeal.tracking_code, "phone": "13700000001"},
    )
    assert ok[0] == 200
    post(client, "/api/v1/public/appeals/track", {"tracking_code": "XXXXXXXXXX", "phone": ""})
    limited = post(
        client,
        "/api/v1/public/appeals/track",
        {"tracking_code": appeal.tracking_code, "phone": "13700000001"},
    )
    assert (limited[0], limited[1]["code"]) == (429, "rate_limited")


def test_public_timeline_hides_internal_steps(world):
    appeal = dispatched(world, phone="13700000003")
    from minsheng.appeals import services

    services.return_appeal(appeal=appeal, actor=world["town_handler"], reason="内部原因：人手不足")
    status, view = post(
        Client(),
        "/api/v1/public/appeals/track",
        {"tracking_code": appeal.tracking_code, "phone": "13700000003"},
    )
    assert status == 200
    assert [e["action"] for e in view["timeline"]] == ["submit", "dispatch"]
    assert "人手不足" not in json.dumps(view, ensure_ascii=False)
    assert "town_handler" not in json.dumps(view)


def test_citizen_rates_by_tracking_code(world):
    appeal = closed(world, phone="13700000004")
    status, view = post(
        Client(),
        "/api/v1/public/appeals/rate",
        {
            "tracking_code": appeal.tracking_code,
            "phone": "13700000004",
            "rating": "basically_satisfied",
            "solved": True,
        },
    )
    assert status == 200
    assert view["rating"] == "basically_satisfied"
    assert reload(appeal).solved is True
    again = post(
        Client(),
        "/api/v1/public/appeals/rate",
        {"tracking_code": appeal.tracking_code, "phone": "13700000004", "rating": "satisfied"},
    )
    assert (again[0], again[1]["code"]) == (409, "already_rated")


def test_staff_queue_masks_phone_and_pages_by_keyset(world):
    for _ in range(5):
        submitted(world, phone="13812341234")
    client = Client()
    client.force_login(world["dispatcher"])
    first = client.get("/api/v1/appeals", {"limit": 2}).json()
    assert [i["citizen_phone"] for i in first["items"]] == ["138****1234"] * 2
    assert first["items"][0]["citizen_name"] == "王**"
    second = client.get("/api/v1/appeals", {"limit": 2, "cursor": first["next_cursor"]}).json()
    third = client.get("/api/v1/appeals", {"limit": 2, "cursor": second["next_cursor"]}).json()
    ids = [i["id"] for i in first["items"] + second["items"] + third["items"]]
    assert ids == sorted(Appeal.objects.values_list("pk", flat=True), reverse=True)
    assert third["next_cursor"] is None


def test_staff_queue_filters(world):
    a = submitted(world, channel="hotline")
    b = dispatched(world, channel="walk_in")
    client = Client()
    client.force_login(world["dispatcher"])
    by_status = client.get("/api/v1/appeals", {"status": "dispatched"}).json()
    assert [i["id"] for i in by_status["items"]] == [b.pk]
    by_channel = client.get("/api/v1/appeals", {"channel": "hotline"}).json()
    assert [i["id"] for i in by_channel["items"]] == [a.pk]
    by_unit = client.get("/api/v1/appeals", {"unit_id": world.city.pk}).json()
    assert [i["id"] for i in by_unit["items"]] == [b.pk]
    by_text = client.get("/api/v1/appeals", {"q": a.tracking_code}).json()
    assert [i["id"] for i in by_text["items"]] == [a.pk]
    bad = client.get("/api/v1/appeals", {"status": "sleeping"})
    assert bad.status_code == 422
    bad_cursor = client.get("/api/v1/appeals", {"cursor": "!!!"})
    assert bad_cursor.status_code == 404


def test_staff_detail_timeline_and_allowed_actions(world):
    appeal = dispatched(world)
    client = Client()
    client.force_login(world["town_handler"])
    detail = client.get(f"/api/v1/appeals/{appeal.pk}").json()
    assert [e["action"] for e in detail["events"]] == ["submit", "dispatch"]
    assert detail["allowed_actions"] == ["accept", "return", "transfer"]
    assert detail["citizen_phone"].count("*") == 4


def test_out_of_scope_detail_is_404(world):
    appeal = dispatched(world)
    client = Client()
    client.force_login(world["other_handler"])
    response = client.get(f"/api/v1/appeals/{appeal.pk}")
    assert (response.status_code, response.json()["code"]) == (404, "appeal_not_found")
    accept = client.post(f"/api/v1/appeals/{appeal.pk}/accept")
    assert accept.status_code == 404
    assert reload(appeal).status == "dispatched"


def test_transitions_over_http(world):
    appeal = submitted(world)
    dispatcher, handler = Client(), Client()
    dispatcher.force_login(world["dispatcher"])
    handler.force_login(world["town_handler"])
    status, body = post(dispatcher, f"/api/v1/appeals/{appeal.pk}/dispatch", {})
    assert (status, body["status"]) == (200, "dispatched")
    assert post(handler, f"/api/v1/appeals/{appeal.pk}/accept", {})[0] == 200
    status, body = post(handler, f"/api/v1/appeals/{appeal.pk}/reply", {"reply": ""})
    assert (status, body["code"]) == (422, "validation_error")
    assert post(handler, f"/api/v1/appeals/{appeal.pk}/reply", {"reply": "已修复"})[0] == 200
    status, body = post(handler, f"/api/v1/appeals/{appeal.pk}/approve-reply", {})
    assert (status, body["code"]) == (403, "not_permitted")
    status, body = post(dispatcher, f"/api/v1/appeals/{appeal.pk}/approve-reply", {})
    assert (status, body["status"]) == (200, "closed")
    status, body = post(dispatcher, f"/api/v1/appeals/{appeal.pk}/approve-reply", {})
    assert (status, body["code"]) == (409, "illegal_transition")
    assert post(dispatcher, "/api/v1/appeals/999999/accept", {})[0] == 404


def test_reveal_over_http_is_audited(world):
    appeal = submitted(world, phone="13611112222")
    client = Client()
    client.force_login(world["agent"])
    status, body = post(client, f"/api/v1/appeals/{appeal.pk}/reveal", {"purpose": "回访"})
    assert (status, body["phone"]) == (200, "13611112222")
    assert (
        AuditRecord.objects.filter(action="appeal.reveal_contact", actor=world["agent"]).count()
        == 1
    )
    auditor = Client()
    auditor.force_login(world["auditor"])
    status, body = post(auditor, f"/api/v1/appeals/{appeal.pk}/reveal", {})
    assert (status, body["code"]) == (403, "not_permitted")


def test_intake_with_caller_history(world):
    submitted(world, phone="13500000001")
    client = Client()
    client.force_login(world["agent"])
    history = client.get("/api/v1/appeals/caller-history", {"phone": "135-0000-0001"}).json()
    assert len(history) == 1
    body = citizen_body(world, channel="hotline", phone="13500000001")
    status, created = post(client, "/api/v1/appeals", body, **{"Idempotency-Key": "call-77"})
    assert status == 201
    again = post(client, "/api/v1/appeals", body, **{"Idempotency-Key": "call-77"})
    assert again == (201, created)
    assert len(client.get("/api/v1/appeals/caller-history", {"phone": "13500000001"}).json()) == 2


def test_handler_may_register_home_visits_only_in_their_territory(world):
    client = Client()
    client.force_login(world["village_handler"])
    body = citizen_body(world, channel="home_visit")
    assert post(client, "/api/v1/appeals", body)[0] == 201
    status, err = post(client, "/api/v1/appeals", citizen_body(world, channel="hotline"))
    assert (status, err["code"]) == (403, "not_permitted")
    status, err = post(
        client,
        "/api/v1/appeals",
        citizen_body(world, channel="home_visit", territory_id=world.other_village.pk),
    )
    assert (status, err["code"]) == (403, "not_permitted")
    assert Appeal.objects.count() == 1


def test_api_token_scoped_to_unit_and_revocable(world):
    token, secret = create_api_token(
        name="话务系统", unit=world.city, actor=world["security_admin"]
    )
    client = Client()
    auth = {"Authorization": f"Bearer {secret}"}
    status, created = post(
        client, "/api/v1/appeals", citizen_body(world, channel="hotline"), **auth
    )
    assert status == 201
    event = AppealEvent.objects.get(appeal_id=created["id"])
    assert event.actor == token.account
    assert client.get("/api/v1/appeals", headers=auth).status_code == 200
    revoke_api_token(token=token, actor=world["security_admin"])
    assert client.get("/api/v1/appeals", headers=auth).status_code == 401
    bogus = client.get("/api/v1/appeals", headers={"Authorization": "Bearer ms_x_y"})
    assert (bogus.status_code, bogus.json()["code"]) == (401, "not_authenticated")


def test_anonymous_staff_requests_are_401(world):
    response = Client().get("/api/v1/appeals")
    assert (response.status_code, response.json()["code"]) == (401, "not_authenticated")


def test_a_staff_post_without_any_credentials_is_401_not_a_csrf_failure(world):
    # given an appeal waiting to be dispatched, and a client with no session and no token
    appeal = submitted(world)
    client = Client(enforce_csrf_checks=True)

    # when it tries a transition
    response = client.post(f"/api/v1/appeals/{appeal.pk}/dispatch", {}, "application/json")

    # then it is told to log in (not that a CSRF check failed), and nothing changed
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert reload(appeal).status == "received"


def test_a_session_post_without_the_csrf_token_is_still_refused(world):
    appeal = submitted(world)
    client = Client(enforce_csrf_checks=True)
    client.force_login(world["dispatcher"])

    response = client.post(f"/api/v1/appeals/{appeal.pk}/dispatch", {}, "application/json")

    assert response.status_code == 403
    assert reload(appeal).status == "received"


def test_openapi_document_is_served(world):
    schema = Client().get("/api/openapi.json").json()
    assert "/api/v1/public/appeals" in schema["paths"]
    assert "/api/v1/appeals/{appeal_id}/dispatch" in schema["paths"]


def _png_with_gps() -> bytes:
    import io

    from PIL import Image

    image = Image.new("RGB", (40, 30), (200, 10, 10))
    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: (39.0, 54.0, 0.0)}  # GPS IFD
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", exif=exif)
    return buffer.getvalue()


def test_upload_then_submit_with_attachment(world, settings, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.MEDIA_ROOT = tmp_path
    client = Client()
    upload = client.post(
        "/api/v1/public/uploads",
        {
            "file": SimpleUploadedFile("road.pdf", _png_with_gps(), content_type="application/pdf"),
        },
    )
    assert upload.status_code == 201
    token = upload.json()["upload_token"]
    assert upload.json()["kind"] == "png"  # by content, not by name
    status, body = post(client, "/api/v1/public/appeals", citizen_body(world, uploads=[token]))
    assert status == 201
    appeal = Appeal.objects.get(pk=body["id"])
    assert list(appeal.attachments.values_list("kind", flat=True)) == ["png"]
    # the same upload cannot be attached twice
    again = post(client, "/api/v1/public/appeals", citizen_body(world, uploads=[token]))
    assert (again[0], again[1]["code"]) == (422, "unknown_upload")


def test_upload_of_a_text_file_is_refused(world, settings, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.MEDIA_ROOT = tmp_path
    response = Client().post(
        "/api/v1/public/uploads",
        {
            "file": SimpleUploadedFile("x.jpg", b"hello, not an image", content_type="image/jpeg"),
        },
    )
    assert (response.status_code, response.json()["code"]) == (415, "attachment_type")
    assert list(tmp_path.rglob("*.*")) == []


def test_oversized_request_is_refused_before_reading(world, settings):
    settings.MINSHENG_MAX_REQUEST_BYTES = 1000
    response = Client().post(
        "/api/v1/public/appeals", data="x" * 2000, content_type="application/json"
    )
    assert (response.status_code, response.json()["code"]) == (413, "request_too_large")
    assert Appeal.objects.count() == 0


def test_token_command_creates_and_revokes(world):
    import io

    from django.core.management import call_command

    out = io.StringIO()
    call_command("token", "create", "--unit", "C", "--name", "小程序后端", stdout=out)
    secret = out.getvalue().strip().splitlines()[-1]
    auth = {"Authorization": f"Bearer {secret}"}
    assert Client().get("/api/v1/appeals", headers=auth).status_code == 200
    prefix = secret.split("_")[1]
    call_command("token", "revoke", prefix, stdout=io.StringIO())
    assert Client().get("/api/v1/appeals", headers=auth).status_code == 401


def test_queue_date_filters_accept_any_offset(world):
    appeal = submitted(world)
    client = Client()
    client.force_login(world["dispatcher"])
    since = client.get("/api/v1/appeals", {"received_from": "1331-03-29T05:47:21-19:07"})
    assert [i["id"] for i in since.json()["items"]] == [appeal.pk]
    naive = client.get("/api/v1/appeals", {"received_to": "2000-01-01T00:00:00"})
    assert (naive.status_code, naive.json()["items"]) == (200, [])


def test_queue_date_at_the_edge_of_time_is_a_422(world):
    client = Client()
    client.force_login(world["dispatcher"])
    response = client.get("/api/v1/appeals", {"received_from": "0001-01-01T00:00:00+14:00"})
    assert (response.status_code, response.json()["code"]) == (422, "validation_error")


def test_attachment_download_is_scoped(world, settings, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from minsheng.appeals import services

    settings.MEDIA_ROOT = tmp_path
    upload = (
        Client()
        .post(
            "/api/v1/public/uploads",
            {
                "file": SimpleUploadedFile("p.png", _png_with_gps(), content_type="image/png"),
            },
        )
        .json()
    )
    appeal = submitted(world, upload_tokens=[upload["upload_token"]])
    services.dispatch_appeal(appeal=appeal, actor=world["dispatcher"], unit=world.town)
    attachment = appeal.attachments.get()
    url = f"/api/v1/appeals/{appeal.pk}/attachments/{attachment.pk}"
    handler = Client()
    handler.force_login(world["town_handler"])
    response = handler.get(url)
    assert (response.status_code, response["Content-Type"]) == (200, "image/png")
    assert b"".join(response.streaming_content)[:8] == b"\x89PNG\r\n\x1a\n"
    outsider = Client()
    outsider.force_login(world["other_handler"])
    assert outsider.get(url).status_code == 404
    assert handler.get(f"/api/v1/appeals/{appeal.pk}/attachments/999999").status_code == 404


def test_api_docs_load_nothing_from_other_hosts(world):
    page = Client().get("/api/docs").content.decode()
    assert "swagger-ui" in page
    assert "https://" not in page and "http://" not in page.replace("http://testserver", "")


def test_nul_characters_are_bad_input(world):
    status, body = post(Client(), "/api/v1/public/appeals", citizen_body(world, content="坏\x00字"))
    # hostile input: NUL in the body is refused as in the query string and the forms (422)
    assert (status, body["code"]) == (422, "validation_error")
    client = Client()
    client.force_login(world["dispatcher"])
    response = client.get("/api/v1/appeals", {"q": "a\x00b"})
    assert (response.status_code, response.json()["code"]) == (422, "validation_error")
    assert Appeal.objects.count() == 0


def test_a_category_deactivated_in_the_admin_is_refused_at_once(world):
    client = Client()
    assert post(client, "/api/v1/public/appeals", citizen_body(world))[0] == 201
    world.noise.is_active = False
    world.noise.save()
    status, body = post(client, "/api/v1/public/appeals", citizen_body(world))
    assert (status, body["code"]) == (422, "unknown_category")
    assert Appeal.objects.count() == 1


def test_oversized_form_post_gets_a_page_not_json(world, settings):
    settings.MINSHENG_MAX_REQUEST_BYTES = 1000
    response = Client().post("/appeal/new/", data="x" * 2000, content_type="text/plain")
    assert response.status_code == 413
    assert response["Content-Type"].startswith("text/html")


def test_queue_attention_filters(world):
    from minsheng.appeals import services

    done = closed(world)
    rated = closed(world)
    services.rate_appeal(appeal=rated, actor=None, rating="satisfied")
    client = Client()
    client.force_login(world["dispatcher"])
    unrated = client.get("/api/v1/appeals", {"unrated": "true"}).json()
    assert [i["id"] for i in unrated["items"]] == [done.pk]
    assert client.get("/api/v1/appeals", {"overdue": "true"}).json()["items"] == []
